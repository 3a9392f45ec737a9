//! Print the names the `.pyc` reader gives string constants, for checking it against another
//! disassembler (`bench/secrets/pyc_names.sh` compares it with `xdis`).
//!
//! ```text
//! cargo run --release -p rampart-detect --example pyc_names -- DIR...
//! ```
//!
//! For every `*.pyc` directly in each DIR: `FILE\t<dir>/<file>\t<pairs>\t<parses: true|false>`,
//! then one `PAIR\t<dir>/<file>\t<name, hex>\t<value, hex>` per constant with a name.

use std::path::Path;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn main() {
    for dir in std::env::args().skip(1) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("{dir}: not a readable directory");
            continue;
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pyc"))
            .collect();
        files.sort();
        for f in files {
            let Ok(data) = std::fs::read(&f) else {
                eprintln!("{}: cannot read", f.display());
                continue;
            };
            let shown = Path::new(&dir)
                .join(f.file_name().unwrap_or_default())
                .display()
                .to_string();
            let names = rampart_detect::pyc::assignments(&data);
            let parses = rampart_detect::pyc::parses(&data);
            println!("FILE\t{shown}\t{}\t{parses}", names.len());
            let mut pairs: Vec<_> = names.into_iter().collect();
            pairs.sort();
            for (value, name) in pairs {
                println!("PAIR\t{shown}\t{}\t{}", hex(name.as_bytes()), hex(value));
            }
        }
    }
}
