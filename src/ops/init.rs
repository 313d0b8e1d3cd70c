//! `otactl init`: the scaffold of a channel repository. What is there is found
//! first ([`detect`]: an `otactl.toml`, channel folders at the root or under
//! `channels/`, the artifact URLs of existing manifests, the `origin` remote), the
//! answers are checked and the files planned ([`plan`], pure), then written all or
//! nothing ([`apply`]). No existing file is ever overwritten.

use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE, Settings};
use crate::error::{Error, Result};
use crate::fsx;
use crate::manifest::DEFAULT_CHANNELS;
use crate::manifest::fields::OciRef;
use crate::remote::github::{Api, DEFAULT_API_URL, Repository};

/// The lint workflow, relative to the repository root.
pub const WORKFLOW: &str = ".github/workflows/otactl-lint.yml";
/// The note in the keys folder, relative to the repository root.
pub const KEYS_README: &str = "keys/README.md";
/// Where `init` suggests the first public key goes.
pub const FIRST_PUBLIC_KEY: &str = "keys/ota_pubkey.pem";

const WORKFLOW_TEMPLATE: &str = include_str!("init/otactl-lint.yml");

/// A value `init` found, and where: what a prompt offers as its default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<T> {
    /// The value.
    pub value: T,
    /// Where it came from, as words ("the artifact URLs of the manifests").
    pub from: &'static str,
}

fn found<T>(value: T, from: &'static str) -> Found<T> {
    Found { value, from }
}

/// What is in the folder `init` scaffolds.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The folder.
    pub root: PathBuf,
    /// An `otactl.toml` is there: its layout is followed as written.
    pub config: Option<PathBuf>,
    /// `name`.
    pub name: Found<String>,
    /// `channels_dir`.
    pub channels_dir: Found<String>,
    /// `channels`, in promotion order.
    pub channels: Found<Vec<String>>,
    /// `[github] repo`.
    pub github_repo: Option<Found<String>>,
    /// `[oci] repository`.
    pub oci_repository: Option<Found<String>>,
    /// `[dir] path`.
    pub dir_path: Option<Found<String>>,
    /// The public keys in `keys/`, relative to the root.
    pub public_keys: Vec<String>,
    /// Files in `keys/` that are not public keys (a private key must not be there).
    pub not_public_keys: Vec<PathBuf>,
    /// How many channel manifests exist.
    pub manifests: usize,
    /// The folder is in a git work tree.
    pub in_git: bool,
}

/// The answers of the flags or the prompts; `None` takes what [`Layout`] found.
/// An empty remote answer means "none".
#[derive(Clone, Debug, Default)]
pub struct Answers {
    /// `--name`.
    pub name: Option<String>,
    /// `--channels-dir`.
    pub channels_dir: Option<String>,
    /// `--channels`.
    pub channels: Option<Vec<String>>,
    /// `--github-repo`.
    pub github_repo: Option<String>,
    /// `--oci-repository`.
    pub oci_repository: Option<String>,
    /// `--dir-path`.
    pub dir_path: Option<String>,
}

/// One thing to make, relative to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A folder.
    Dir(PathBuf),
    /// A file and its bytes.
    File(PathBuf, Vec<u8>),
}

impl Entry {
    /// The path, relative to the root.
    pub fn path(&self) -> &Path {
        match self {
            Entry::Dir(path) | Entry::File(path, _) => path,
        }
    }
}

/// What `init` will do.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The folder.
    pub root: PathBuf,
    /// What is made, in order (a folder before what it holds).
    pub make: Vec<Entry>,
    /// What is there already and is kept as it is, relative to the root.
    pub kept: Vec<PathBuf>,
    /// The layout written (or kept): the values `otactl.toml` holds.
    pub settings: Chosen,
}

/// The layout `init` settles on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// `name`.
    pub name: String,
    /// `channels_dir`.
    pub channels_dir: String,
    /// `channels`.
    pub channels: Vec<String>,
    /// `[github] repo`.
    pub github_repo: Option<String>,
    /// `[oci] repository`.
    pub oci_repository: Option<String>,
    /// `[dir] path`.
    pub dir_path: Option<String>,
    /// `[signing] public_keys`.
    pub public_keys: Vec<String>,
    /// `[signing] require`.
    pub require_signature: bool,
}

/// Looks at `root`: its `otactl.toml` when there is one, else the channel folders,
/// the manifests' artifact URLs and the `origin` remote.
pub fn detect(root: &Path) -> Result<Layout> {
    let config_path = under(root, Path::new(CONFIG_FILE));
    let in_git = crate::git::is_work_tree(root);
    let layout = if fsx::exists(&config_path) {
        configured(root, config_path)?
    } else {
        found_in_files(root, in_git)?
    };
    let (public_keys, not_public_keys) = keys_in(root)?;
    Ok(Layout {
        public_keys,
        not_public_keys,
        in_git,
        ..layout
    })
}

/// The layout an existing `otactl.toml` names, as written.
fn configured(root: &Path, path: PathBuf) -> Result<Layout> {
    let settings = Settings::load(root, Some(&path))?;
    let from = "otactl.toml";
    let channels_dir = found(settings.channels_dir.display().to_string(), from);
    let channels = found(settings.channels.to_vec(), from);
    let manifests = manifests_of(root, &channels_dir, &channels).len();
    Ok(Layout {
        config: Some(path),
        name: found(
            settings.name.clone().unwrap_or_else(|| folder_name(root)),
            from,
        ),
        github_repo: settings.github.repo.clone().map(|r| found(r, from)),
        oci_repository: settings.oci.repository.clone().map(|r| found(r, from)),
        dir_path: settings.dir_path.as_ref().map(|p| {
            found(
                p.strip_prefix(root).unwrap_or(p).display().to_string(),
                from,
            )
        }),
        manifests,
        ..Layout::empty(root, channels_dir, channels)
    })
}

/// The layout read from the folders, the manifests' artifact URLs and `origin`.
fn found_in_files(root: &Path, in_git: bool) -> Result<Layout> {
    let (channels_dir, channels) = detect_channels(root)?;
    let manifests = manifests_of(root, &channels_dir, &channels);
    let urls = artifact_urls(&manifests);
    let from_urls = "the artifact URLs of the manifests";
    let origin = in_git
        .then(|| crate::git::remote_url(root, "origin"))
        .flatten();
    Ok(Layout {
        name: name_from_urls(&urls).map_or_else(
            || found(folder_name(root), "the folder's name"),
            |n| found(n, from_urls),
        ),
        github_repo: github_from_urls(&urls)
            .map(|r| found(r, from_urls))
            .or_else(|| {
                let repo = Repository::from_remote_url(origin.as_deref()?, "github.com")?;
                Some(found(repo.to_string(), "the `origin` remote"))
            }),
        oci_repository: oci_from_urls(&urls).map(|r| found(r, from_urls)),
        manifests: manifests.len(),
        ..Layout::empty(root, channels_dir, channels)
    })
}

/// The channels' `manifest.json` files that exist.
fn manifests_of(
    root: &Path,
    channels_dir: &Found<String>,
    channels: &Found<Vec<String>>,
) -> Vec<PathBuf> {
    channels
        .value
        .iter()
        .map(|c| root.join(&channels_dir.value).join(c).join("manifest.json"))
        .filter(|p| fsx::exists(p))
        .collect()
}

impl Layout {
    fn empty(root: &Path, channels_dir: Found<String>, channels: Found<Vec<String>>) -> Layout {
        Layout {
            root: root.to_owned(),
            config: None,
            name: found(String::new(), "nothing"),
            channels_dir,
            channels,
            github_repo: None,
            oci_repository: None,
            dir_path: None,
            public_keys: Vec::new(),
            not_public_keys: Vec::new(),
            manifests: 0,
            in_git: false,
        }
    }
}

/// The channel folders: under `channels/` when it is there, else at the root when
/// folders there hold a `manifest.json` (the layout of a hand-made channel
/// repository), else the defaults under `channels/`.
fn detect_channels(root: &Path) -> Result<(Found<String>, Found<Vec<String>>)> {
    let channels = root.join("channels");
    if fsx::is_dir(&channels) {
        let names = channel_folders(&channels, false)?;
        if !names.is_empty() {
            return Ok((
                found("channels".into(), "the folder `channels/`"),
                found(names, "the folders in `channels/`"),
            ));
        }
    } else {
        let names = channel_folders(root, true)?;
        if !names.is_empty() {
            return Ok((
                found(".".into(), "the channel folders at the root"),
                found(names, "the folders at the root that hold a `manifest.json`"),
            ));
        }
    }
    Ok((
        found("channels".into(), "the default"),
        found(DEFAULT_CHANNELS.map(String::from).to_vec(), "the default"),
    ))
}

/// The folders of `dir` named as channels may be (holding a `manifest.json` when
/// `with_manifest`), in promotion order: other names first, then `canary`,
/// `staging`, `stable` in that order, so that `stable` stays the last.
fn channel_folders(dir: &Path, with_manifest: bool) -> Result<Vec<String>> {
    let mut names: Vec<String> = fsx::list_dir(dir)?
        .into_iter()
        .filter(|(_, is_dir)| *is_dir)
        .filter(|(path, _)| !with_manifest || fsx::exists(&path.join("manifest.json")))
        .filter_map(|(path, _)| path.file_name()?.to_str().map(str::to_owned))
        .filter(|name| check_channel(name).is_ok())
        .collect();
    let rank = |name: &String| DEFAULT_CHANNELS.iter().position(|c| c == name);
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    Ok(names)
}

/// The `artifact.url` of each manifest that can be read (at most 64 KiB each, as
/// every command reads them).
fn artifact_urls(manifests: &[PathBuf]) -> Vec<url::Url> {
    manifests
        .iter()
        .filter_map(|path| fsx::read_limited(path, 64 * 1024, "a manifest").ok())
        .filter_map(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .filter_map(|json| url::Url::parse(json.get("artifact")?.get("url")?.as_str()?).ok())
        .collect()
}

/// `NAME` of the first artifact named `NAME-src-<build_id>.tar.gz`.
fn name_from_urls(urls: &[url::Url]) -> Option<String> {
    urls.iter().find_map(|url| {
        let file = url.path_segments()?.next_back()?;
        crate::remote::dir::build_id_from_file_name(file)?;
        let (name, _) = file.rsplit_once("-src-")?;
        check_name(name).is_ok().then(|| name.to_owned())
    })
}

/// The repository of the first GitHub release asset link.
fn github_from_urls(urls: &[url::Url]) -> Option<String> {
    let api = Api::parse(DEFAULT_API_URL, false).ok()?;
    urls.iter()
        .find_map(|url| Some(api.release_asset(url)?.repository.to_string()))
}

/// `REGISTRY/REPOSITORY` of the first `oci://` link.
fn oci_from_urls(urls: &[url::Url]) -> Option<String> {
    urls.iter().find_map(|url| {
        let oci = OciRef::from_url(url.as_str()).ok()?;
        Some(format!("{}/{}", oci.registry, oci.repository))
    })
}

/// The folder's own name, as a `name` may be written (other characters become `-`).
fn folder_name(root: &Path) -> String {
    let name = std::path::absolute(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| {
            if crate::config::is_name_char(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c| c == '-' || c == '.');
    if name.is_empty() {
        "firmware".into()
    } else {
        name.to_owned()
    }
}

/// The public keys in `keys/` (relative to the root), and the `.pem` files there that
/// are not one.
fn keys_in(root: &Path) -> Result<(Vec<String>, Vec<PathBuf>)> {
    let dir = root.join("keys");
    if !fsx::is_dir(&dir) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut public = Vec::new();
    let mut other = Vec::new();
    let mut files = fsx::list_dir(&dir)?;
    files.sort();
    for (path, is_dir) in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let pem = Path::new(name)
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("pem"));
        if is_dir || !pem {
            continue;
        }
        if crate::repo::load_public_key(&path).is_ok() {
            public.push(format!("keys/{name}"));
        } else {
            other.push(PathBuf::from("keys").join(name));
        }
    }
    Ok((public, other))
}

/// Checks a `name` answer.
pub fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if let Some(c) = name.chars().find(|c| !crate::config::is_name_char(*c)) {
        return Err(format!(
            "the name holds `{}`; use letters, digits, `.`, `_` and `-`",
            c.escape_debug()
        ));
    }
    Ok(())
}

/// Checks one channel name.
pub fn check_channel(name: &str) -> std::result::Result<(), String> {
    let ok = crate::config::is_simple_name(name);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a channel name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit",
            crate::text::code(name)
        ))
    }
}

/// Reads a comma-separated channel list (`canary,staging,stable`).
pub fn parse_channels(text: &str) -> std::result::Result<Vec<String>, String> {
    let channels: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    if channels.is_empty() {
        return Err("name at least one channel, e.g. `canary,staging,stable`".into());
    }
    for (i, channel) in channels.iter().enumerate() {
        check_channel(channel)?;
        if channels[..i].contains(channel) {
            return Err(format!("`{channel}` is listed twice"));
        }
    }
    Ok(channels)
}

/// Checks a `channels_dir` or `[dir] path` answer: a relative path inside the
/// repository (`.` for the root itself).
pub fn check_channels_dir(dir: &str) -> std::result::Result<(), String> {
    let path = Path::new(dir);
    if dir.is_empty() {
        return Err("the folder is empty; `.` is the repository root".into());
    }
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "{} is not inside the repository; name a folder relative to its root, e.g. `channels`",
            crate::text::code(dir)
        ));
    }
    Ok(())
}

/// Checks a `[github] repo` answer.
pub fn check_github_repo(repo: &str) -> std::result::Result<(), String> {
    repo.parse::<Repository>().map(drop)
}

/// Checks an `[oci] repository` answer (`REGISTRY/REPOSITORY`, no tag).
pub fn check_oci_repository(repository: &str) -> std::result::Result<(), String> {
    if repository.contains("://") || repository.contains('@') {
        return Err(format!(
            "{} is not `REGISTRY/REPOSITORY` (no scheme, no tag, no login)",
            crate::text::code(repository)
        ));
    }
    format!("{repository}:latest")
        .parse::<OciRef>()
        .map(drop)
        .map_err(|_| {
            format!(
                "{} is not `REGISTRY/REPOSITORY` (a host, then lowercase path parts of letters, digits, `.`, `_`, `-`)",
                crate::text::code(repository)
            )
        })
}

/// Checks a `[dir] path` answer: any path but an empty one.
pub fn check_dir_path(path: &str) -> std::result::Result<(), String> {
    if path.trim().is_empty() {
        return Err("the release folder is empty".into());
    }
    Ok(())
}

/// `rel` under `root`, shown without a leading `./` when `root` is the working folder.
pub fn under(root: &Path, rel: &Path) -> PathBuf {
    if root == Path::new(".") {
        rel.to_owned()
    } else {
        root.join(rel)
    }
}

/// Settles the layout from `answers` and `layout`, and lists what to make and what
/// is kept. Refused (exit 4) when an answer would change an existing `otactl.toml`,
/// and when everything `init` writes is there already.
pub fn plan(layout: &Layout, answers: &Answers) -> Result<Plan> {
    let settings = match &layout.config {
        Some(path) => {
            refuse_changes(path, layout, answers)?;
            Chosen {
                name: layout.name.value.clone(),
                channels_dir: layout.channels_dir.value.clone(),
                channels: layout.channels.value.clone(),
                github_repo: layout.github_repo.as_ref().map(|f| f.value.clone()),
                oci_repository: layout.oci_repository.as_ref().map(|f| f.value.clone()),
                dir_path: layout.dir_path.as_ref().map(|f| f.value.clone()),
                public_keys: Vec::new(),
                require_signature: false,
            }
        }
        None => choose(layout, answers)?,
    };
    let mut make = Vec::new();
    let mut kept = Vec::new();
    let root = &layout.root;
    if layout.config.is_none() {
        let text = render_config(&settings);
        // What is written must read back as otactl reads it.
        Settings::parse(root, &root.join(CONFIG_FILE), &text)?;
        make.push(Entry::File(CONFIG_FILE.into(), text.into_bytes()));
    } else {
        kept.push(PathBuf::from(CONFIG_FILE));
    }
    let channels_dir = Path::new(&settings.channels_dir);
    for channel in &settings.channels {
        dirs_for(root, &channels_dir.join(channel), &mut make)?;
    }
    for (path, bytes) in [
        (KEYS_README, keys_readme().into_bytes()),
        (WORKFLOW, workflow().into_bytes()),
    ] {
        let path = Path::new(path);
        if fsx::exists(&root.join(path)) {
            kept.push(path.to_owned());
        } else {
            dirs_for(root, path.parent().unwrap_or(Path::new("")), &mut make)?;
            make.push(Entry::File(path.to_owned(), bytes));
        }
    }
    if make.is_empty() {
        let shown: Vec<String> = kept.iter().map(|p| format!("`{}`", p.display())).collect();
        return Err(Error::WouldOverwrite {
            path: under(root, Path::new(CONFIG_FILE)),
            message: format!(
                "everything `otactl init` writes is there already ({} and the channel folders); nothing was written. Edit the files themselves, or remove the one to make anew",
                shown.join(", ")
            ),
        });
    }
    Ok(Plan {
        root: root.clone(),
        make,
        kept,
        settings,
    })
}

/// The folders of `rel` (and its parents) that do not exist yet, added to `make`
/// once each; a file in the way is an error.
fn dirs_for(root: &Path, rel: &Path, make: &mut Vec<Entry>) -> Result<()> {
    let mut path = PathBuf::new();
    for part in rel.components() {
        if matches!(part, std::path::Component::CurDir) {
            continue;
        }
        path.push(part);
        let full = under(root, &path);
        if fsx::is_dir(&full) {
            continue;
        }
        if fsx::exists(&full) {
            return Err(Error::WouldOverwrite {
                path: full,
                message: "`otactl init` needs a folder there, and a file is in the way; move it, or choose another folder".into(),
            });
        }
        let entry = Entry::Dir(path.clone());
        if !make.contains(&entry) {
            make.push(entry);
        }
    }
    Ok(())
}

/// An answer that differs from the `otactl.toml` that is there: refused.
fn refuse_changes(path: &Path, layout: &Layout, answers: &Answers) -> Result<()> {
    let given = [
        (
            "--name",
            "name",
            answers.name.clone(),
            Some(layout.name.value.clone()),
        ),
        (
            "--channels-dir",
            "channels_dir",
            answers.channels_dir.clone(),
            Some(layout.channels_dir.value.clone()),
        ),
        (
            "--channels",
            "channels",
            answers.channels.as_ref().map(|c| c.join(",")),
            Some(layout.channels.value.join(",")),
        ),
        (
            "--github-repo",
            "[github] repo",
            answers.github_repo.clone(),
            layout.github_repo.as_ref().map(|f| f.value.clone()),
        ),
        (
            "--oci-repository",
            "[oci] repository",
            answers.oci_repository.clone(),
            layout.oci_repository.as_ref().map(|f| f.value.clone()),
        ),
        (
            "--dir-path",
            "[dir] path",
            answers.dir_path.clone(),
            layout.dir_path.as_ref().map(|f| f.value.clone()),
        ),
    ];
    for (flag, key, answer, current) in given {
        let Some(answer) = answer else { continue };
        if Some(&answer) != current.as_ref() {
            return Err(Error::WouldOverwrite {
                path: path.to_owned(),
                message: format!(
                    "`{flag}` would change `{key}`, and `otactl init` never changes an existing otactl.toml; edit the file, or run without `{flag}`"
                ),
            });
        }
    }
    Ok(())
}

/// The layout of a new `otactl.toml`: each answer checked, else what was found.
fn choose(layout: &Layout, answers: &Answers) -> Result<Chosen> {
    fn checked(
        flag: &'static str,
        value: Option<String>,
        check: fn(&str) -> std::result::Result<(), String>,
    ) -> Result<Option<String>> {
        match value.filter(|v| !v.is_empty()) {
            Some(v) => check(&v)
                .map(|()| Some(v))
                .map_err(|message| Error::InvalidArg { flag, message }),
            None => Ok(None),
        }
    }
    let name = checked("--name", answers.name.clone(), check_name)?
        .unwrap_or_else(|| layout.name.value.clone());
    let channels_dir = checked(
        "--channels-dir",
        answers.channels_dir.clone(),
        check_channels_dir,
    )?
    .unwrap_or_else(|| layout.channels_dir.value.clone());
    let channels = match &answers.channels {
        Some(channels) => {
            parse_channels(&channels.join(",")).map_err(|message| Error::InvalidArg {
                flag: "--channels",
                message,
            })?
        }
        None => layout.channels.value.clone(),
    };
    let remote = |answer: &Option<String>, found: &Option<Found<String>>| match answer {
        Some(answer) => answer.clone(),
        None => found.as_ref().map(|f| f.value.clone()).unwrap_or_default(),
    };
    let github_repo = checked(
        "--github-repo",
        Some(remote(&answers.github_repo, &layout.github_repo)),
        check_github_repo,
    )?;
    let oci_repository = checked(
        "--oci-repository",
        Some(remote(&answers.oci_repository, &layout.oci_repository)),
        check_oci_repository,
    )?;
    let dir_path = checked(
        "--dir-path",
        Some(remote(&answers.dir_path, &layout.dir_path)),
        check_dir_path,
    )?;
    // A fresh repository requires signatures from its first manifest; one whose
    // manifests exist but whose keys are not in `keys/` cannot check them yet.
    let require_signature = layout.manifests == 0 || !layout.public_keys.is_empty();
    Ok(Chosen {
        name,
        channels_dir,
        channels,
        github_repo,
        oci_repository,
        dir_path,
        public_keys: layout.public_keys.clone(),
        require_signature,
    })
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// `otactl.toml` for `chosen`, every key explained; the targets not chosen are left
/// as comments to fill in.
pub fn render_config(chosen: &Chosen) -> String {
    use std::fmt::Write as _;
    let list = |items: &[String]| {
        let items: Vec<String> = items.iter().map(|c| quoted(c)).collect();
        format!("[{}]", items.join(", "))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# otactl's settings for this channel repository (written by `otactl init`).\n\
         \n\
         # The stem of the source tarball: NAME-src-BUILD_ID.tar.gz.\n\
         name = {}\n\
         # The folder that holds one folder per channel (\".\": they sit at the root).\n\
         channels_dir = {}\n\
         # The channels in promotion order: a build reaches each after the one before.\n\
         channels = {}\n",
        quoted(&chosen.name),
        quoted(&chosen.channels_dir),
        list(&chosen.channels),
    );
    let _ = writeln!(
        out,
        "[signing]\n\
         # The public keys devices trust (only public keys live in keys/). Make a pair\n\
         # with the private key outside this repository:\n\
         #   otactl key generate --private ~/.config/otactl/{name}.pem --public {FIRST_PUBLIC_KEY}\n\
         # and list the public one here.\n\
         public_keys = {}\n\
         # Every manifest must carry a valid signature under one of them.\n\
         require = {}\n",
        list(&chosen.public_keys),
        chosen.require_signature,
        name = chosen.name,
    );
    match &chosen.github_repo {
        Some(repo) => {
            let _ = writeln!(
                out,
                "[github]\n# Where releases and pull requests go.\nrepo = {}\n",
                quoted(repo)
            );
        }
        None => out.push_str(
            "# [github]\n# repo = \"OWNER/REPO\"                # where releases and pull requests go\n\n",
        ),
    }
    match &chosen.oci_repository {
        Some(repository) => {
            let _ = writeln!(
                out,
                "[oci]\n# Where `publish oci` pushes (REGISTRY/REPOSITORY; the tag is the version).\nrepository = {}\n",
                quoted(repository)
            );
        }
        None => out.push_str("# [oci]\n# repository = \"registry.example.com/team/firmware\"\n\n"),
    }
    match &chosen.dir_path {
        Some(path) => {
            let _ = writeln!(
                out,
                "[dir]\n# The release folder `publish dir` copies into.\npath = {}\n# base_url = \"https://ota.example.com/releases\"   # the URL it is served at",
                quoted(path)
            );
        }
        None => out.push_str(
            "# [dir]\n# path = \"/srv/ota/releases\"\n# base_url = \"https://ota.example.com/releases\"\n",
        ),
    }
    out
}

/// `keys/README.md`.
pub fn keys_readme() -> String {
    format!(
        "# keys\n\n\
         Only public keys go here: the Ed25519 keys devices trust, listed in\n\
         `[signing] public_keys` of `otactl.toml`. A private key never goes into this\n\
         repository; keep it in a secret store (in GitHub Actions, the secret\n\
         `OTACTL_SIGNING_KEY`).\n\n\
         Make a pair, the private half outside every git work tree:\n\n\
         ```sh\n\
         otactl key generate --private ~/.config/otactl/signing.pem --public {FIRST_PUBLIC_KEY}\n\
         ```\n"
    )
}

/// `.github/workflows/otactl-lint.yml`, installing this version of otactl.
pub fn workflow() -> String {
    WORKFLOW_TEMPLATE.replace("@VERSION@", env!("CARGO_PKG_VERSION"))
}

/// Makes what `plan` lists, all or nothing: a file that appears in the meantime is
/// not overwritten, and on any failure what was made is removed again.
pub fn apply(plan: &Plan) -> Result<()> {
    let mut made: Vec<&Entry> = Vec::new();
    let result = plan.make.iter().try_for_each(|entry| {
        let path = under(&plan.root, entry.path());
        let placed = match entry {
            Entry::Dir(_) => fsx::create_dir(&path)?,
            Entry::File(_, bytes) => fsx::write_new(&path, bytes)?,
        };
        if !placed {
            return Err(Error::WouldOverwrite {
                path,
                message: "it appeared while `otactl init` ran; nothing was written".into(),
            });
        }
        made.push(entry);
        Ok(())
    });
    if result.is_err() {
        for entry in made.iter().rev() {
            let path = under(&plan.root, entry.path());
            match entry {
                Entry::Dir(_) => fsx::remove_empty_dir(&path),
                Entry::File(..) => {
                    let _ = fsx::remove_file(&path);
                }
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen() -> Chosen {
        Chosen {
            name: "evse".into(),
            channels_dir: ".".into(),
            channels: vec!["canary".into(), "staging".into(), "stable".into()],
            github_repo: Some("acme/evse-ota".into()),
            oci_repository: None,
            dir_path: Some("/srv/ota/releases".into()),
            public_keys: vec!["keys/ota_pubkey.pem".into()],
            require_signature: true,
        }
    }

    #[test]
    fn the_config_reads_back_with_the_values_chosen() {
        let text = render_config(&chosen());
        let root = Path::new("/repo");
        let settings = Settings::parse(root, &root.join(CONFIG_FILE), &text).unwrap();
        assert_eq!(settings.name.as_deref(), Some("evse"));
        assert_eq!(settings.channels_dir, PathBuf::from("."));
        assert_eq!(settings.channels.to_vec(), chosen().channels);
        assert_eq!(settings.github.repo.as_deref(), Some("acme/evse-ota"));
        assert_eq!(settings.oci.repository, None);
        assert_eq!(settings.dir_path, Some(PathBuf::from("/srv/ota/releases")));
        assert_eq!(
            settings.public_keys,
            vec![PathBuf::from("keys/ota_pubkey.pem")]
        );
        assert!(settings.require_signature);
    }

    #[test]
    fn quoting_survives_any_text() {
        let mut c = chosen();
        c.dir_path = Some("/srv/a \"b\" \\c\nd".into());
        let text = render_config(&c);
        let root = Path::new("/repo");
        let settings = Settings::parse(root, &root.join(CONFIG_FILE), &text).unwrap();
        assert_eq!(
            settings.dir_path,
            Some(PathBuf::from("/srv/a \"b\" \\c\nd"))
        );
    }

    #[test]
    fn channel_lists_are_checked() {
        assert_eq!(
            parse_channels(" canary, stable ").unwrap(),
            vec!["canary", "stable"]
        );
        assert!(parse_channels("canary,canary").is_err());
        assert!(parse_channels("Stable").is_err());
        assert!(parse_channels(",").is_err());
    }

    #[test]
    fn answers_are_checked() {
        assert!(check_oci_repository("registry.example.com/team/fw").is_ok());
        assert!(check_oci_repository("oci://r/x").is_err());
        assert!(check_oci_repository("r/x:1.0").is_err());
        assert!(check_oci_repository("r/Upper").is_err());
        assert!(check_github_repo("acme/fw").is_ok());
        assert!(check_github_repo("acme").is_err());
        assert!(check_channels_dir("../x").is_err());
        assert!(check_channels_dir("/abs").is_err());
        assert!(check_channels_dir(".").is_ok());
        assert!(check_name("evse").is_ok());
        assert!(check_name("a b").is_err());
    }

    #[test]
    fn the_workflow_installs_this_version() {
        let text = workflow();
        assert!(!text.contains("@VERSION@"));
        assert!(text.contains(&format!("\"{}\"", env!("CARGO_PKG_VERSION"))));
    }
}
