//! The docs cannot fall behind the binary. Every `hookroute ...` command line in README.md and
//! docs/ goes through the real CLI parser (lines in ```sh blocks must parse completely; a command
//! named inline, like `hookroute sign`, must name a real command and real flags). Every ```yaml
//! snippet loads: routes.yaml snippets with the real config loader (fragments are completed
//! into a config), others (Prometheus, Kubernetes) as YAML. Also: no "being added" text, no
//! reference to a Markdown file that is not in the repo, every duration unit the parser takes
//! documented once, README's Layout naming every entry of src/, and the presets that accept
//! future timestamps named in README's answer table. (docs/providers.md's snippets are loaded,
//! with a valid secret for each preset, by tests/providers_doc.rs.)

use clap::error::ErrorKind;
use clap::Parser;
use hookroute::cli::Cli;
use hookroute::config::{self, MapEnvironment};
use hookroute::signature;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file in docs/, with their text.
fn docs() -> Vec<(String, String)> {
    let mut files = vec![root().join("README.md")];
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    in_docs.sort();
    files.extend(in_docs);
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(root()).unwrap().display().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The fenced blocks of `lang` in a Markdown text.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_none() && trimmed == format!("```{lang}") {
            current = Some(String::new());
        } else if trimmed == "```" {
            if let Some(block) = current.take() {
                out.push(block);
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

/// Splits a shell line into words: quotes ('...', "...") group, `#` outside quotes starts a
/// comment, and `[`/`]` around optional parts (`[--json]`) are dropped.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '[' | ']') => {}
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Placeholders in usage lines, given a value of the type the argument takes.
fn fill_placeholder(word: String) -> String {
    match word.as_str() {
        "SEQ" | "JOB" => "1".into(),
        "SECS" => "1700000000".into(),
        _ => word,
    }
}

/// The command lines of ```sh blocks (continuations joined, up to a redirection or a pipe), as
/// words after `hookroute`.
/// `cargo run --release -- ARGS` runs the binary too.
fn sh_command_lines(text: &str) -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    for block in blocks(text, "sh") {
        let mut joined = String::new();
        for line in block.lines() {
            match line.trim_end().strip_suffix('\\') {
                Some(start) => joined.push_str(start),
                None => {
                    joined.push_str(line);
                    lines.push(std::mem::take(&mut joined));
                }
            }
        }
    }
    lines
        .iter()
        .filter_map(|line| {
            let mut words = shell_words(line);
            // The command ends at a redirection or a pipe.
            if let Some(end) = words
                .iter()
                .position(|w| [">", ">>", "|", "&&"].contains(&w.as_str()))
            {
                words.truncate(end);
            }
            let start = match words.first().map(String::as_str) {
                Some("hookroute") => 1,
                Some("cargo") if words.iter().any(|w| w == "--") => {
                    words.iter().position(|w| w == "--").unwrap() + 1
                }
                _ => return None,
            };
            Some(words[start..].to_vec())
        })
        .collect()
}

/// `hookroute ...` in inline code spans, as words after `hookroute`.
fn inline_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let outside_blocks: String = {
        let mut kept = String::new();
        let mut fenced = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            } else if !fenced {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        kept
    };
    for (i, span) in outside_blocks.split('`').enumerate() {
        if i % 2 == 1 {
            if let Some(rest) = span.strip_prefix("hookroute ") {
                out.push(shell_words(rest));
            }
        }
    }
    out
}

fn parse(words: &[String]) -> Result<Cli, clap::Error> {
    let argv =
        std::iter::once("hookroute".to_string()).chain(words.iter().cloned().map(fill_placeholder));
    Cli::try_parse_from(argv)
}

#[test]
fn every_command_line_in_the_docs_parses_with_the_real_cli() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, text) in docs() {
        for words in sh_command_lines(&text) {
            checked += 1;
            if let Err(e) = parse(&words) {
                failures.push(format!("{file}: hookroute {}\n{e}", words.join(" ")));
            }
        }
        for words in inline_commands(&text) {
            checked += 1;
            // Named in a sentence: the command and its flags must exist; required arguments
            // may be left out.
            if let Err(e) = parse(&words) {
                let partial = matches!(
                    e.kind(),
                    ErrorKind::MissingRequiredArgument
                        | ErrorKind::MissingSubcommand
                        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                );
                if !partial {
                    failures.push(format!("{file}: `hookroute {}`\n{e}", words.join(" ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 20, "only {checked} command lines found");
}

#[test]
fn the_command_line_check_refuses_an_unknown_command_or_flag() {
    let words = |line: &str| shell_words(line);
    assert!(parse(&words("explian --body x")).is_err());
    assert!(parse(&words("check --conifg routes.yaml")).is_err());
    assert!(parse(&words(
        "explain --endpoint /a --body b.json [--now SECS] [--json]"
    ))
    .is_ok());
    assert_eq!(
        words(r#"explain -H "Stripe-Signature: t=1" # a comment"#),
        ["explain", "-H", "Stripe-Signature: t=1"]
    );
}

/// Every environment variable a snippet names (`env: NAME`, `${env:NAME}`, `..._env: NAME`).
fn env_for(snippet: &str) -> MapEnvironment {
    let mut env = MapEnvironment::default();
    for line in snippet.lines() {
        for (i, _) in line.match_indices("env: ") {
            let name: String = line[i + 5..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.ends_with("_URL") {
                // A database URL must parse as one.
                env = env.with(&name, "postgres://hookroute:secret@127.0.0.1:5432/hooks");
            } else if !name.is_empty() {
                env = env.with(&name, "docs-test-secret");
            }
        }
        for (i, _) in line.match_indices("${env:") {
            let name: String = line[i + 6..].chars().take_while(|c| *c != '}').collect();
            env = env.with(&name, "docs-test-secret");
        }
    }
    env
}

/// Target names in `forward:` lists.
fn forwarded_targets(snippet: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, _) in snippet.match_indices("forward: ") {
        let rest = &snippet[i + 9..];
        let list = match rest.strip_prefix('[') {
            Some(inner) => &inner[..inner.find(']').unwrap()],
            None => rest.lines().next().unwrap(),
        };
        for name in list.split(',') {
            let name = name.trim().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// A routes.yaml snippet completed into a whole config: a fragment (indented, as under an
/// endpoint) becomes an endpoint; undeclared targets are declared; secret files are written.
fn complete_config(snippet: &str, dir: &Path) -> String {
    let first = snippet
        .lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap_or("");
    let mut text = if first.starts_with(' ') {
        let mut endpoint = format!("endpoints:\n  - path: /snippet\n{snippet}");
        if !snippet.contains("\n    event:") && !snippet.starts_with("    event:") {
            endpoint.push_str("    event: { id: \"json:$.id\" }\n");
        }
        endpoint.push_str("    rules: [{ name: all, forward: [my-service] }]\n");
        endpoint
    } else {
        snippet.to_string()
    };
    let at: Vec<usize> = text.match_indices("file: ").map(|(i, _)| i).collect();
    for (n, i) in at.into_iter().enumerate().rev() {
        let path: String = text[i + 6..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '}' && *c != ',')
            .collect();
        let file = dir.join(format!("secret-{n}"));
        std::fs::write(&file, "docs-test-secret").unwrap();
        text.replace_range(i + 6..i + 6 + path.len(), &file.display().to_string());
    }
    if !text.contains("\ntargets:") && !text.starts_with("targets:") {
        let mut targets = String::from("targets:\n");
        for name in forwarded_targets(&text) {
            targets.push_str(&format!("  {name}: {{ url: http://127.0.0.1:9/{name} }}\n"));
        }
        if targets.lines().count() > 1 {
            text = format!("{targets}{text}");
        }
    }
    text
}

/// Top-level keys of YAML that is not hookroute's (Prometheus, Kubernetes).
const FOREIGN_YAML: [&str; 3] = ["scrape_configs", "groups", "readinessProbe"];

#[test]
fn every_yaml_snippet_in_the_docs_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    let mut loaded = 0;
    for (file, text) in docs() {
        if file == "docs/providers.md" {
            continue; // tests/providers_doc.rs, with a valid secret per preset
        }
        for snippet in blocks(&text, "yaml") {
            let value: serde_yaml::Value = serde_yaml::from_str(&snippet)
                .unwrap_or_else(|e| panic!("{file}: not YAML ({e}):\n{snippet}"));
            let first_key = value
                .as_mapping()
                .and_then(|m| m.keys().next())
                .and_then(|k| k.as_str());
            if first_key.is_some_and(|k| FOREIGN_YAML.contains(&k)) {
                continue;
            }
            let is_fixture = value.get("request").is_some()
                || value
                    .get(0)
                    .is_some_and(|first| first.get("request").is_some());
            if is_fixture {
                hookroute::fixtures::load::load_text(&snippet, Path::new("snippet.yaml"))
                    .unwrap_or_else(|e| {
                        panic!("{file}: the fixture does not load:\n{snippet}\n{e:#?}")
                    });
                loaded += 1;
                continue;
            }
            let text = complete_config(&snippet, dir.path());
            if let Err(errors) = config::load_str(&text, dir.path(), &env_for(&text)) {
                panic!("{file}: the snippet does not load:\n{snippet}\nas\n{text}\n{errors:#?}");
            }
            loaded += 1;
        }
    }
    assert!(loaded >= 5, "only {loaded} snippets loaded");
}

#[test]
fn no_doc_says_a_working_feature_is_being_added() {
    for (file, text) in docs() {
        for phrase in ["being added", "another branch", "not merged yet"] {
            assert!(
                !text.to_lowercase().contains(phrase),
                "{file} says {phrase:?}"
            );
        }
    }
}

/// Every file of the repo's own text: docs, sources, their YAML, the tests.
fn repo_texts() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![
        root().join("src"),
        root().join("docs"),
        root().join("tests"),
        root().join("examples"),
    ];
    for top in [
        "README.md",
        "BENCHMARKS.md",
        "RELIABILITY.md",
        "routes.example.yaml",
    ] {
        out.push((
            root().join(top),
            std::fs::read_to_string(root().join(top)).unwrap(),
        ));
    }
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((path, text));
            }
        }
    }
    out
}

#[test]
fn every_markdown_file_the_repo_refers_to_exists() {
    let mut missing = Vec::new();
    for (path, text) in repo_texts() {
        if path.ends_with("tests/docs.rs") {
            continue; // names missing files on purpose
        }
        let dir = path.parent().unwrap();
        for (i, _) in text.match_indices(".md") {
            let start = text[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-./".contains(c)))
                .map_or(0, |s| s + 1);
            let name = &text[start..i + 3];
            let stem = name.trim_end_matches(".md").trim_start_matches("./");
            if stem.is_empty() || stem.ends_with('/') {
                continue;
            }
            let found = [
                root().join(name),
                dir.join(name),
                root().join("docs").join(name),
            ]
            .iter()
            .any(|p| p.is_file());
            if !found {
                missing.push(format!("{}: {name}", path.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "references to missing files: {missing:#?}"
    );
}

#[test]
fn every_duration_unit_the_parser_takes_is_documented_once_and_loads() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let sentence = "are a number and a unit: `ms`, `s`, `m`, `h` or `d` (`w` too)";
    assert!(readme.contains(sentence), "README lost its duration units");
    let all: String = docs().into_iter().map(|(_, t)| t).collect();
    assert_eq!(all.matches("a number and a unit").count(), 1);
    for (written, secs) in [
        ("1500ms", 1.5),
        ("90s", 90.0),
        ("2m", 120.0),
        ("3h", 10800.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("1h30m", 5400.0),
    ] {
        let text = format!("storage:\n  dedup_ttl: {written}\n");
        let cfg = config::load_str(&text, Path::new("."), &MapEnvironment::default())
            .unwrap_or_else(|e| panic!("{written}: {e:#?}"));
        assert_eq!(cfg.storage.dedup_ttl.as_secs_f64(), secs, "{written}");
    }
}

#[test]
fn readme_layout_names_every_entry_of_src_and_only_real_files() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("## Layout").unwrap();
    let end = readme[start + 3..]
        .find("\n## ")
        .map_or(readme.len(), |e| start + 3 + e);
    let layout = &readme[start..end];
    let named: Vec<&str> = layout.split('`').skip(1).step_by(2).collect();
    for entry in std::fs::read_dir(root().join("src")).unwrap() {
        let entry = entry.unwrap();
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            name.push('/');
        }
        assert!(
            named.contains(&name.as_str()),
            "Layout does not name src/{name}"
        );
    }
    let mut files = Vec::new();
    let mut stack = vec![root()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && name != "target" && !name.starts_with('.') {
                files.push(format!("{name}/"));
                stack.push(path);
            } else {
                files.push(name);
            }
        }
    }
    for name in named {
        let looks_like_a_path =
            name.ends_with('/') || name.ends_with(".rs") || name.ends_with(".yaml");
        if looks_like_a_path && !name.contains(' ') {
            assert!(
                files.iter().any(|f| f == name),
                "Layout names {name}, which is not in the repo"
            );
        }
    }
}

#[test]
fn readme_names_exactly_the_presets_that_accept_future_timestamps() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let note = &readme[readme.find("(¹) A timestamp").expect("the footnote")..];
    let note = &note[..note.find("\n\n").unwrap()];
    let accepting: Vec<&str> = signature::preset_names()
        .into_iter()
        .filter(|name| {
            let raw =
                signature::parse_scheme_value(signature::preset(name).unwrap().scheme.clone())
                    .unwrap();
            raw.timestamp.is_some_and(|t| !t.reject_future)
        })
        .collect();
    assert!(!accepting.is_empty());
    for name in signature::preset_names() {
        assert_eq!(
            note.contains(&format!("`{name}`")),
            accepting.contains(&name),
            "{name}: the README's note on future timestamps is wrong:\n{note}"
        );
    }
    assert!(note.contains("reject_future: true"), "{note}");
}
