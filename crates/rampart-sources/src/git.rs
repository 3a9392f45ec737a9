//! Git history: every blob reachable from every ref, each scanned once, attributed to the first
//! commit (in topological order) and path where it appeared.

use crate::{Sink, SourceOptions, fs::display, human_size};
use gix::ObjectId;
use gix::objs::Find;
use rampart_core::{Item, Location, Skipped};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A repository that cannot be opened at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot open git repository {path}: {message}")]
pub struct GitError {
    /// The repository path as given.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// What a history scan covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryStats {
    /// Commits walked.
    pub commits: usize,
    /// Unique blobs handed to the sink.
    pub blobs: usize,
}

/// Is `path` the top of a git repository (a work tree with `.git`, or a bare repository)?
pub fn is_git_repo(path: &Path) -> bool {
    path.join(".git").exists()
        || (path.join("HEAD").is_file()
            && path.join("objects").is_dir()
            && path.join("refs").is_dir())
}

struct CommitInfo {
    id: ObjectId,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    author: String,
    date: String,
}

struct BlobRef {
    id: ObjectId,
    /// Index into the commit list; `None` for blobs reached from a ref that is not a commit.
    commit: Option<usize>,
    path: String,
}

enum Tip {
    Commit(ObjectId),
    Tree(ObjectId, String),
    Blob(ObjectId, String),
}

/// Scan the history of the repository at `path`.
///
/// Problems with single refs, commits, trees or blobs (corrupt or missing objects, shallow
/// boundaries, blobs over the size limit) become skip entries and the scan continues; only a
/// repository that cannot be opened at all is an error.
pub fn scan_git_history(
    path: &Path,
    opts: &SourceOptions,
    sink: &dyn Sink,
) -> Result<HistoryStats, GitError> {
    let shown = display(path);
    let repo = gix::open(path).map_err(|e| GitError {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let prefix = if shown == "." || shown.is_empty() {
        String::new()
    } else {
        format!("{}/", shown.trim_end_matches('/'))
    };
    let hash_kind = repo.object_hash();
    let skip = |what: String, reason: String| sink.skipped(Skipped::new(what, reason));

    let shallow: HashSet<ObjectId> = match repo.shallow_commits() {
        Ok(Some(c)) => {
            skip(
                shown.clone(),
                "shallow clone: history before the shallow boundary is not in the repository"
                    .into(),
            );
            c.iter().copied().collect()
        }
        _ => HashSet::new(),
    };

    // 1. Tips: every ref, fully peeled, plus a detached HEAD, plus what their reflogs name.
    let mut tips = Vec::new();
    let mut logged: std::collections::BTreeSet<ObjectId> = std::collections::BTreeSet::new();
    let mut buf = Vec::new();
    let classify =
        |id: ObjectId, name: String, buf: &mut Vec<u8>| match repo.objects.try_find(&id, buf) {
            Ok(Some(obj)) => match obj.kind {
                gix::objs::Kind::Commit => Some(Tip::Commit(id)),
                gix::objs::Kind::Tree => Some(Tip::Tree(id, name)),
                gix::objs::Kind::Blob => Some(Tip::Blob(id, name)),
                gix::objs::Kind::Tag => None,
            },
            Ok(None) => {
                skip(
                    format!("{shown}@{name}"),
                    format!("ref points to missing object {id}"),
                );
                None
            }
            Err(e) => {
                skip(
                    format!("{shown}@{name}"),
                    format!("cannot read object {id}: {e}"),
                );
                None
            }
        };
    match repo.references() {
        Ok(platform) => match platform.all() {
            Ok(iter) => {
                for r in iter {
                    match r {
                        Ok(r) => {
                            let name = r.name().as_bstr().to_string();
                            reflog_ids(&r, &mut logged);
                            match r.into_fully_peeled_id() {
                                Ok(id) => tips.extend(classify(id.detach(), name, &mut buf)),
                                Err(e) => skip(
                                    format!("{shown}@{name}"),
                                    format!("cannot resolve ref: {e}"),
                                ),
                            }
                        }
                        Err(e) => skip(shown.clone(), format!("unreadable ref: {e}")),
                    }
                }
            }
            Err(e) => skip(shown.clone(), format!("cannot list refs: {e}")),
        },
        Err(e) => skip(shown.clone(), format!("cannot list refs: {e}")),
    }
    if let Ok(head) = repo.head_id() {
        tips.extend(classify(head.detach(), "HEAD".into(), &mut buf));
    }
    // Commits only a reflog still reaches (after `git reset --hard`, `commit --amend`, a
    // rebase): a secret "removed" that way is still in the repository until it is gc'd.
    if let Ok(Some(head)) = repo.try_find_reference("HEAD") {
        reflog_ids(&head, &mut logged);
    }
    for id in logged {
        if matches!(
            repo.objects.try_find(&id, &mut buf),
            Ok(Some(o)) if o.kind == gix::objs::Kind::Commit
        ) {
            tips.push(Tip::Commit(id));
        }
    }

    // 2. Commits in topological order (parents before children), by iterative post-order DFS.
    let mut commits: Vec<CommitInfo> = Vec::new();
    let mut index: HashMap<ObjectId, Option<usize>> = HashMap::new();
    let mut order: Vec<usize> = Vec::new();
    let mut stack: Vec<(ObjectId, bool)> = tips
        .iter()
        .rev()
        .filter_map(|t| match t {
            Tip::Commit(id) => Some((*id, false)),
            _ => None,
        })
        .collect();
    while let Some((id, expanded)) = stack.pop() {
        if expanded {
            if let Some(Some(i)) = index.get(&id) {
                order.push(*i);
            }
            continue;
        }
        if index.contains_key(&id) {
            continue;
        }
        let info = match repo.objects.try_find(&id, &mut buf) {
            Ok(Some(obj)) if obj.kind == gix::objs::Kind::Commit => {
                match gix::objs::CommitRef::from_bytes(obj.data, hash_kind) {
                    Ok(c) => {
                        let (author, date) = match c.author() {
                            Ok(a) => {
                                let who = format!(
                                    "{} <{}>",
                                    a.name.to_string().trim(),
                                    a.email.to_string().trim()
                                );
                                let when = a
                                    .time()
                                    .map(|t| {
                                        t.format_or_unix(gix::date::time::format::ISO8601_STRICT)
                                    })
                                    .unwrap_or_default();
                                (who, when)
                            }
                            Err(_) => (String::new(), String::new()),
                        };
                        Some(CommitInfo {
                            id,
                            tree: c.tree(),
                            parents: c.parents().collect(),
                            author,
                            date,
                        })
                    }
                    Err(e) => {
                        skip(format!("{shown}@{id}"), format!("corrupt commit: {e}"));
                        None
                    }
                }
            }
            Ok(Some(_)) => {
                skip(format!("{shown}@{id}"), "expected a commit object".into());
                None
            }
            Ok(None) => {
                if !shallow.contains(&id) {
                    skip(
                        format!("{shown}@{id}"),
                        "missing commit object (corrupt or partial clone)".into(),
                    );
                }
                None
            }
            Err(e) => {
                skip(format!("{shown}@{id}"), format!("cannot read commit: {e}"));
                None
            }
        };
        match info {
            Some(info) => {
                let i = commits.len();
                index.insert(id, Some(i));
                stack.push((id, true));
                let is_boundary = shallow.contains(&id);
                if !is_boundary {
                    for p in info.parents.iter().rev() {
                        if !index.contains_key(p) {
                            stack.push((*p, false));
                        }
                    }
                }
                commits.push(info);
            }
            None => {
                index.insert(id, None);
            }
        }
    }

    // 3. Blobs, first appearance wins; a tree seen before holds only blobs seen before.
    let mut seen_trees: HashSet<ObjectId> = HashSet::new();
    let mut seen_blobs: HashSet<ObjectId> = HashSet::new();
    let mut blobs: Vec<BlobRef> = Vec::new();
    let mut walk_tree = |root: ObjectId, commit: Option<usize>, label: &str, buf: &mut Vec<u8>| {
        let mut trees = vec![(root, String::new())];
        while let Some((tid, dir)) = trees.pop() {
            if !seen_trees.insert(tid) {
                continue;
            }
            let entries: Vec<(gix::objs::tree::EntryMode, String, ObjectId)> =
                match repo.objects.try_find(&tid, buf) {
                    Ok(Some(obj)) if obj.kind == gix::objs::Kind::Tree => {
                        let mut v = Vec::new();
                        for e in gix::objs::TreeRefIter::from_bytes(obj.data, hash_kind) {
                            match e {
                                Ok(e) => v.push((e.mode, e.filename.to_string(), e.oid.to_owned())),
                                Err(err) => {
                                    skip(
                                        format!("{shown}@{label}:{dir}"),
                                        format!("corrupt tree {tid}: {err}"),
                                    );
                                    break;
                                }
                            }
                        }
                        v
                    }
                    Ok(_) => {
                        skip(
                            format!("{shown}@{label}:{dir}"),
                            format!("missing tree object {tid}"),
                        );
                        continue;
                    }
                    Err(e) => {
                        skip(
                            format!("{shown}@{label}:{dir}"),
                            format!("cannot read tree {tid}: {e}"),
                        );
                        continue;
                    }
                };
            for (mode, name, oid) in entries {
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                if mode.is_tree() {
                    trees.push((oid, path));
                } else if mode.is_blob() && !seen_blobs.contains(&oid) && !opts.excluded(&path) {
                    seen_blobs.insert(oid);
                    blobs.push(BlobRef {
                        id: oid,
                        commit,
                        path,
                    });
                }
            }
        }
    };
    for &ci in &order {
        let (tree, id) = (commits[ci].tree, commits[ci].id);
        walk_tree(
            tree,
            Some(ci),
            &id.to_hex_with_len(12).to_string(),
            &mut buf,
        );
    }
    for tip in &tips {
        if let Tip::Tree(id, name) = tip {
            walk_tree(*id, None, name, &mut buf);
        }
    }
    for tip in &tips {
        if let Tip::Blob(id, name) = tip {
            if seen_blobs.insert(*id) {
                blobs.push(BlobRef {
                    id: *id,
                    commit: None,
                    path: name.clone(),
                });
            }
        }
    }

    // 4. Read and hand over the blobs in parallel, one repository handle per thread.
    let stats = HistoryStats {
        commits: commits.len(),
        blobs: blobs.len(),
    };
    let sync = repo.into_sync();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads())
        .build()
        .map_err(|e| GitError {
            path: shown.clone(),
            message: format!("cannot start worker threads: {e}"),
        })?;
    pool.install(|| {
        blobs.par_iter().for_each_init(
            || (sync.to_thread_local(), Vec::new()),
            |(repo, buf), b| {
                let c = b.commit.map(|i| &commits[i]);
                let what = || match c {
                    Some(c) => format!("{shown}@{}:{}", c.id.to_hex_with_len(12), b.path),
                    None => format!("{shown}@{}", b.path),
                };
                match repo.find_header(b.id) {
                    Ok(h) if h.size() > opts.max_file_size => {
                        skip(
                            what(),
                            format!(
                                "blob is {}, over the {} limit (--max-file-size)",
                                human_size(h.size()),
                                human_size(opts.max_file_size)
                            ),
                        );
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        skip(what(), format!("cannot read blob {}: {e}", b.id));
                        return;
                    }
                }
                match repo.objects.try_find(&b.id, buf) {
                    Ok(Some(obj)) => {
                        if obj.data.is_empty() {
                            return;
                        }
                        let mut location = Location::file(format!("{prefix}{}", b.path));
                        if let Some(c) = c {
                            location.commit = Some(c.id.to_string());
                            location.author = Some(c.author.clone()).filter(|s| !s.is_empty());
                            location.date = Some(c.date.clone()).filter(|s| !s.is_empty());
                        }
                        sink.item(&Item {
                            path: &b.path,
                            data: obj.data,
                            location: &location,
                        });
                    }
                    Ok(None) => skip(what(), format!("missing blob object {}", b.id)),
                    Err(e) => skip(what(), format!("cannot read blob {}: {e}", b.id)),
                }
                if buf.capacity() > 16 << 20 {
                    *buf = Vec::new();
                }
            },
        );
    });
    Ok(stats)
}

/// The commits a ref's reflog names (old and new side of each entry; null ids left out).
fn reflog_ids(r: &gix::Reference<'_>, out: &mut std::collections::BTreeSet<ObjectId>) {
    let mut plat = r.log_iter();
    if let Ok(Some(lines)) = plat.all() {
        for line in lines.flatten() {
            for id in [line.new_oid(), line.previous_oid()] {
                if !id.is_null() {
                    out.insert(id);
                }
            }
        }
    }
}
