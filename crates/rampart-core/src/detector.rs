use crate::{Finding, Location, Skipped};

/// One piece of content handed to detectors: its bytes, a logical path (file name matters for
/// formats recognised by name, such as lockfiles), and the location to copy into findings.
///
/// A detector treats `location` as opaque: it clones it and fills in what it knows on top
/// (line, column, member, field). It never asks where the bytes came from.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// Logical path of the content (inside its image or repository where relevant), `/`-separated.
    pub path: &'a str,
    /// The content.
    pub data: &'a [u8],
    /// Where the content is, for findings about it.
    pub location: &'a Location,
}

/// What detectors produce for one item.
#[derive(Debug, Default)]
pub struct Detections {
    /// Problems found.
    pub findings: Vec<Finding>,
    /// Parts of the item that could not be analysed, and why.
    pub skipped: Vec<Skipped>,
}

/// Anything that looks at content: secret rules, lockfile parsers, model analysers, URL judges.
///
/// Detectors are shared between threads; any state they accumulate across items (an inventory, say)
/// sits behind their own synchronisation.
pub trait Detector: Send + Sync {
    /// A short stable name, used in logs and `skipped` reasons.
    fn name(&self) -> &'static str;
    /// Analyse one item, appending to `out`.
    fn detect(&self, item: &Item<'_>, out: &mut Detections);
    /// Called once a target (a directory, file, image, repository, stdin) has been read: a
    /// detector that held items back until it had seen the rest (a lock whose manifest may come
    /// later in an image) reports them now. The default does nothing.
    fn finish(&self, _out: &mut Detections) {}
}
