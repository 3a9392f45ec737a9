//! Python start-up hooks: code that runs every time an interpreter starts.
//!
//! The rule (how `site.py` behaves, and how the compromised LiteLLM 1.82.8 wheel persisted with a
//! `litellm_init.pth`):
//!
//! - A `.pth` file directly inside a `site-packages` or `dist-packages` directory (or at the root of
//!   a wheel, which is where installation puts it) is read by `site.py` at start-up; each line that
//!   begins with `import` followed by a space or tab is **executed**. Other lines are paths added to
//!   `sys.path` and do nothing by themselves.
//! - Executable lines are compared with the templates that well-known tools write —
//!   `distutils-precedence.pth` (setuptools), `_virtualenv.pth`, `*-nspkg.pth` (setuptools
//!   namespace packages), `__editable__*.pth` finders (pip editable installs), `pywin32.pth`, and
//!   coverage.py's process start-up hook. A file whose executable lines all match a known
//!   template does not fire.
//! - Any other executable line fires as kind `startup-hook`: `critical` when the line also spawns
//!   processes, decodes or evaluates code, or opens network connections (`subprocess`, `exec`,
//!   `eval`, `base64`, `marshal`, `socket`, `urllib`, `requests`, `os.system`, `__import__`,
//!   `compile`), otherwise `high`.
//! - `sitecustomize.py` and `usercustomize.py` anywhere under a Python library directory run at
//!   every start-up too: `critical` with the same dangerous calls, otherwise `medium` (Debian and
//!   Ubuntu ship a benign `sitecustomize.py`; the finding asks for a look, not a panic).

use rampart_core::{Detections, Detector, Finding, Item, Kind, Severity, fingerprint};

/// Finds Python start-up hooks (`.pth` lines that execute, `sitecustomize.py`).
#[derive(Debug, Default)]
pub struct StartupHookDetector;

const DANGEROUS: &[&str] = &[
    "subprocess",
    "exec(",
    "exec (",
    "eval(",
    "base64",
    "b64decode",
    "marshal",
    "socket",
    "urllib",
    "requests",
    "http.client",
    "os.system",
    "os.popen",
    "__import__",
    "compile(",
    "pty",
    "ctypes",
    "zlib.decompress",
    "codecs.decode",
    "/tmp/",
    "curl ",
    "wget ",
];

fn is_benign_import(name: &str, line: &str) -> bool {
    let l = line.trim();
    let known = [
        // setuptools
        "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); ",
        "import _virtualenv",
        "import pywin32_bootstrap",
    ];
    if known.iter().any(|k| l == k.trim()) {
        return true;
    }
    if name == "distutils-precedence.pth"
        && l.starts_with("import os; var = 'SETUPTOOLS_USE_DISTUTILS'")
    {
        return true;
    }
    // Namespace-package shims written by setuptools (`*-nspkg.pth`): a fixed template that only
    // touches sys, types, os and importlib.
    if name.ends_with("-nspkg.pth") && l.starts_with("import sys, types, os;") {
        let rest = l
            .replace("__import__('importlib.util')", "")
            .replace("__import__('importlib.machinery')", "");
        return !DANGEROUS.iter().any(|d| rest.contains(d));
    }
    // pip editable installs: `import __editable___pkg_1_0_finder; __editable___pkg_1_0_finder.install()`
    if name.starts_with("__editable__") {
        if let Some(rest) = l.strip_prefix("import __editable__") {
            let module: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let expected = format!("import __editable__{module}; __editable__{module}.install()");
            return l == expected || l == format!("import __editable__{module}");
        }
    }
    // coverage.py's documented process start-up hook.
    if l == "import coverage; coverage.process_startup()" {
        return true;
    }
    false
}

/// Directory containing the file, and the file name.
fn split(path: &str) -> (&str, &str) {
    let p = path.rsplit('!').next().unwrap_or(path);
    match p.rfind('/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => ("", p),
    }
}

fn is_site_dir(dir: &str) -> bool {
    dir.ends_with("site-packages") || dir.ends_with("dist-packages")
}

fn in_python_lib(dir: &str) -> bool {
    dir.contains("site-packages")
        || dir.contains("dist-packages")
        || dir.split('/').any(|c| {
            c.starts_with("python") && c[6..].chars().all(|ch| ch.is_ascii_digit() || ch == '.')
        })
}

impl Detector for StartupHookDetector {
    fn name(&self) -> &'static str {
        "startup-hooks"
    }

    fn detect(&self, item: &Item<'_>, out: &mut Detections) {
        let (dir, name) = split(item.path);
        // A wheel member at the archive root lands in site-packages when installed.
        let wheel_root = item.path.contains(".whl!")
            && !item.path.rsplit('!').next().unwrap_or("").contains('/');
        if name.ends_with(".pth") && (is_site_dir(dir) || wheel_root) {
            self.pth(item, name, out);
        } else if (name == "sitecustomize.py" || name == "usercustomize.py")
            && (in_python_lib(dir) || wheel_root)
        {
            let text = String::from_utf8_lossy(item.data);
            let bad: Vec<&str> = DANGEROUS
                .iter()
                .copied()
                .filter(|d| text.contains(d))
                .collect();
            let severity = if bad.is_empty() {
                Severity::Medium
            } else {
                Severity::Critical
            };
            let mut message = format!("{name} runs at every Python start-up");
            if !bad.is_empty() {
                message.push_str(&format!(" and uses {}", bad.join(", ")));
            }
            push(
                item,
                out,
                "python-sitecustomize",
                severity,
                message,
                1,
                &text,
            );
        }
    }
}

impl StartupHookDetector {
    fn pth(&self, item: &Item<'_>, name: &str, out: &mut Detections) {
        let text = String::from_utf8_lossy(item.data);
        for (i, line) in text.lines().enumerate() {
            let starts_import = line.starts_with("import ") || line.starts_with("import\t");
            if !starts_import || is_benign_import(name, line) {
                continue;
            }
            let bad: Vec<&str> = DANGEROUS
                .iter()
                .copied()
                .filter(|d| line.contains(d))
                .collect();
            let (severity, message) = if bad.is_empty() {
                (
                    Severity::High,
                    format!("{name} executes code at every Python start-up"),
                )
            } else {
                (
                    Severity::Critical,
                    format!(
                        "{name} executes code at every Python start-up using {}",
                        bad.join(", ")
                    ),
                )
            };
            push(
                item,
                out,
                "python-pth-exec",
                severity,
                message,
                i as u32 + 1,
                line,
            );
        }
    }
}

fn push(
    item: &Item<'_>,
    out: &mut Detections,
    rule: &str,
    severity: Severity,
    message: String,
    line: u32,
    code: &str,
) {
    let mut location = item.location.clone();
    location.line = Some(line);
    location.column = Some(1);
    let mut f = Finding::new(Kind::StartupHook, rule, severity, message, location);
    f.remediation = Some(
        "Find which package installed this file. If it is not one you trust, remove the package, treat the host or image as compromised, and rotate every credential it could read (environment variables, cloud and SSH keys, tokens in config files).".into(),
    );
    let excerpt: String = code.chars().take(200).collect();
    f.extra.insert("code".into(), excerpt.clone().into());
    f.fingerprint = fingerprint(
        &[rule, &item.location.identity(), &line.to_string()],
        excerpt.as_bytes(),
    );
    out.findings.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_core::Location;

    fn run(path: &str, content: &str) -> Vec<Finding> {
        let loc = Location::file(path);
        let mut out = Detections::default();
        StartupHookDetector.detect(
            &Item {
                path,
                data: content.as_bytes(),
                location: &loc,
            },
            &mut out,
        );
        out.findings
    }

    #[test]
    fn litellm_style_pth_is_critical() {
        let f = run(
            "usr/local/lib/python3.11/site-packages/litellm_init.pth",
            "import os, subprocess, sys; subprocess.Popen([sys.executable, \"-c\", \"import base64; exec(base64.b64decode('cHJpbnQoMSk='))\"])\n",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, Kind::StartupHook);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].location.line, Some(1));
    }

    #[test]
    fn benign_pth_files_do_not_fire() {
        let sp = "venv/lib/python3.12/site-packages";
        assert!(run(&format!("{sp}/distutils-precedence.pth"), "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n").is_empty());
        assert!(run(&format!("{sp}/_virtualenv.pth"), "import _virtualenv").is_empty());
        assert!(run(&format!("{sp}/easy-install.pth"), "/opt/src/pkg\n./lib\n").is_empty());
        assert!(
            run(
                &format!("{sp}/__editable__.demo-1.0.pth"),
                "import __editable___demo_1_0_finder; __editable___demo_1_0_finder.install()\n"
            )
            .is_empty()
        );
        assert!(run(&format!("{sp}/google_auth-2.0-py3.9-nspkg.pth"), "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('google',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('google', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('google', [os.path.dirname(p)])));m = m or sys.modules.setdefault('google', types.ModuleType('google'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n").is_empty());
        // The same template with a payload appended is not benign.
        assert_eq!(
            run(
                &format!("{sp}/evil-nspkg.pth"),
                "import sys, types, os;__import__('importlib.util');os.system('id')\n"
            )
            .len(),
            1
        );
    }

    #[test]
    fn unknown_import_line_is_high_and_outside_site_packages_is_ignored() {
        let f = run(
            "usr/lib/python3/dist-packages/acme.pth",
            "import acme_boot\n",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert!(run("home/user/notes.pth", "import os; os.system('x')").is_empty());
    }

    #[test]
    fn wheel_root_pth_fires() {
        let loc = Location::file("dist/evil-1.0-py3-none-any.whl");
        let mut out = Detections::default();
        let path = "dist/evil-1.0-py3-none-any.whl!evil_init.pth";
        StartupHookDetector.detect(
            &Item {
                path,
                data: b"import os;os.system('curl x|sh')",
                location: &loc,
            },
            &mut out,
        );
        assert_eq!(out.findings[0].severity, Severity::Critical);
    }

    #[test]
    fn sitecustomize() {
        let f = run(
            "usr/lib/python3.11/sitecustomize.py",
            "# Debian\ntry:\n    import apport_python_hook\nexcept ImportError:\n    pass\n",
        );
        assert_eq!(f[0].severity, Severity::Medium);
        let f = run(
            "usr/local/lib/python3.11/site-packages/sitecustomize.py",
            "import socket,subprocess\n",
        );
        assert_eq!(f[0].severity, Severity::Critical);
    }
}
