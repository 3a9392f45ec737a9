//! The Public Suffix List's official test vectors (`tests/test_psl.txt` of publicsuffix/list),
//! read from the shared reference data at `../shared/data/psl/test_psl.txt` relative to the
//! repository root. Skips with a message when that file is absent.

use rampart_url::SuffixList;
use std::path::PathBuf;

fn data_file(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/psl")
        .join(name);
    p.exists().then_some(p)
}

/// Parse `checkPublicSuffix('input', 'expected');` lines (`null` for none).
fn vectors(text: &str) -> Vec<(Option<String>, Option<String>)> {
    let arg = |s: &str| -> Option<String> {
        let s = s.trim();
        if s == "null" {
            None
        } else {
            Some(s.trim_matches('\'').to_string())
        }
    };
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("checkPublicSuffix("))
        .map(|l| {
            let inner = l
                .trim_start_matches("checkPublicSuffix(")
                .trim_end_matches(");");
            let (a, b) = inner.split_once(',').expect("two arguments");
            (arg(a), arg(b))
        })
        .collect()
}

fn check(psl: &SuffixList, what: &str) {
    let Some(path) = data_file("test_psl.txt") else {
        eprintln!("SKIP: ../shared/data/psl/test_psl.txt not found; PSL vectors not checked");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read test_psl.txt");
    let vs = vectors(&text);
    assert!(vs.len() >= 70, "only {} vectors parsed", vs.len());
    let mut failures = Vec::new();
    for (input, expected) in &vs {
        let got = input.as_deref().and_then(|i| psl.registrable_domain(i));
        if &got != expected {
            failures.push(format!("{input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} vectors fail:\n{}",
        failures.len(),
        vs.len(),
        failures.join("\n")
    );
    eprintln!("{what}: all {} PSL vectors pass", vs.len());
}

#[test]
fn builtin_list_passes_all_vectors() {
    check(&SuffixList::builtin(), "built-in list");
}

#[test]
fn list_loaded_from_file_passes_all_vectors() {
    let Some(path) = data_file("public_suffix_list.dat") else {
        eprintln!("SKIP: ../shared/data/psl/public_suffix_list.dat not found");
        return;
    };
    let text = std::fs::read_to_string(path).expect("read list");
    let psl = SuffixList::parse(&text).expect("the official list parses");
    check(&psl, "list from file");
}
