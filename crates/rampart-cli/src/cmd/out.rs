//! Buffered standard output for commands whose output may be piped into `head`: `outln!` collects
//! lines, [`flush_out`] writes them at the end, where a closed pipe is not an error.

thread_local! {
    pub(crate) static OUT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// `println!` into a buffer; the buffer is written by [`flush_out`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        $crate::cmd::out::OUT.with(|o| {
            use std::fmt::Write as _;
            let _ = writeln!(o.borrow_mut(), $($arg)*);
        })
    }};
}
pub(crate) use outln;

/// Write what `outln!` collected to stdout; a closed pipe (`| head`) ends quietly.
pub(crate) fn flush_out() -> anyhow::Result<()> {
    use std::io::Write as _;
    let text = OUT.with(|o| std::mem::take(&mut *o.borrow_mut()));
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
