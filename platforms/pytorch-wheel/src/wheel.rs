//! Reading and checking a wheel (PEP 427 / the binary distribution format):
//! its file name's tags, `WHEEL`, `METADATA`, `top_level.txt`, and that every
//! file matches the sha256 and size its `RECORD` lists.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// What a checked wheel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wheel {
    /// The distribution name from METADATA, e.g. `hello-ext`.
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python_tag: String,
    pub abi_tag: String,
    pub platform_tag: String,
    /// Importable top-level packages (`top_level.txt`), when listed.
    pub top_level: Vec<String>,
    /// Files the RECORD lists and that were checked.
    pub files: usize,
}

/// The tag triple and names from a wheel's file name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileName {
    name: String,
    version: String,
    build: Option<String>,
    python: String,
    abi: String,
    platform: String,
}

fn parse_file_name(file_name: &str) -> Result<FileName, String> {
    let stem = file_name.strip_suffix(".whl").ok_or("the file name does not end in .whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, build, tags) = match parts.as_slice() {
        [n, v, p, a, pl] => (n, v, None, [p, a, pl]),
        [n, v, b, p, a, pl] => (n, v, Some(b.to_string()), [p, a, pl]),
        _ => return Err("the file name is not {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl".into()),
    };
    if tags.iter().map(|t| **t).chain([*name, *version]).any(str::is_empty) {
        return Err("the file name has an empty part".into());
    }
    Ok(FileName {
        name: name.to_string(),
        version: version.to_string(),
        build,
        python: tags[0].to_string(),
        abi: tags[1].to_string(),
        platform: tags[2].to_string(),
    })
}

/// PEP 503 normalization: lower case, runs of `-_.` become `-`.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The header fields of an email-style file (METADATA, WHEEL).
fn headers(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect()
}

/// One CSV record of RECORD (RFC 4180 quoting, as Python's csv module writes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Reads and checks the wheel `file_name` whose contents are `bytes`.
pub fn check(file_name: &str, bytes: &[u8]) -> Result<Wheel, String> {
    let parsed = parse_file_name(file_name)?;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a valid zip file: {e}"))?;
    let names = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| format!("a file name in the zip cannot be read: {e}"))?;
    let dist_info: BTreeSet<&str> = names
        .iter()
        .filter_map(|n| n.split_once(".dist-info/").map(|(dir, _)| dir))
        .filter(|d| !d.contains('/'))
        .collect();
    let dist_info = match dist_info.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => format!("{one}.dist-info"),
        [] => return Err("it has no .dist-info directory".into()),
        many => return Err(format!("it has {} .dist-info directories", many.len())),
    };
    let mut read = |path: &str| -> Result<Vec<u8>, String> {
        let mut file = zip.by_name(path).map_err(|_| format!("{path} is missing"))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(|e| format!("{path} cannot be read: {e}"))?;
        Ok(buf)
    };
    let text = |b: Vec<u8>, path: &str| String::from_utf8(b).map_err(|_| format!("{path} is not UTF-8"));

    let wheel_path = format!("{dist_info}/WHEEL");
    let wheel = text(read(&wheel_path)?, &wheel_path)?;
    let fields = headers(&wheel);
    if !fields.iter().any(|(k, v)| *k == "Wheel-Version" && v.starts_with("1.")) {
        return Err(format!("{wheel_path} does not say Wheel-Version: 1.x"));
    }
    let declared: BTreeSet<&str> = fields.iter().filter(|(k, _)| *k == "Tag").map(|(_, v)| *v).collect();
    let mut named = BTreeSet::new();
    for py in parsed.python.split('.') {
        for abi in parsed.abi.split('.') {
            for plat in parsed.platform.split('.') {
                named.insert(format!("{py}-{abi}-{plat}"));
            }
        }
    }
    let declared_owned: BTreeSet<String> = declared.iter().map(|s| s.to_string()).collect();
    if named != declared_owned {
        return Err(format!(
            "the file name's tags ({}) differ from {wheel_path}'s Tag lines ({})",
            named.into_iter().collect::<Vec<_>>().join(", "),
            declared.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }

    let metadata_path = format!("{dist_info}/METADATA");
    let metadata = text(read(&metadata_path)?, &metadata_path)?;
    let meta = headers(&metadata);
    let field = |k: &str| meta.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string());
    let name = field("Name").ok_or(format!("{metadata_path} has no Name"))?;
    let version = field("Version").ok_or(format!("{metadata_path} has no Version"))?;
    if normalize(&name) != normalize(&parsed.name) || version != parsed.version {
        return Err(format!("{metadata_path} says {name} {version}, the file name {} {}", parsed.name, parsed.version));
    }
    let top_level = read(&format!("{dist_info}/top_level.txt"))
        .map(|b| {
            String::from_utf8_lossy(&b).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
        })
        .unwrap_or_default();

    let record_path = format!("{dist_info}/RECORD");
    let record = text(read(&record_path)?, &record_path)?;
    let unhashed = [record_path.clone(), format!("{record_path}.jws"), format!("{record_path}.p7s")];
    let mut listed = BTreeSet::new();
    for line in record.lines().filter(|l| !l.trim().is_empty()) {
        let fields = csv_fields(line);
        let [path, hash, size] = fields.as_slice() else {
            return Err(format!("{record_path}: malformed line `{line}`"));
        };
        listed.insert(path.clone());
        if unhashed.contains(path) {
            continue;
        }
        let expected =
            hash.strip_prefix("sha256=").ok_or(format!("{record_path}: `{path}` has no sha256 hash (`{hash}`)"))?;
        let contents = read(path).map_err(|e| format!("{record_path} lists {path}, but {e}"))?;
        let actual = URL_SAFE_NO_PAD.encode(Sha256::digest(&contents));
        if actual != expected {
            return Err(format!(
                "{path} does not match its RECORD hash (RECORD: sha256={expected}, file: sha256={actual})"
            ));
        }
        if size.parse::<usize>().ok() != Some(contents.len()) {
            return Err(format!("{path} is {} bytes, RECORD says {size}", contents.len()));
        }
    }
    if let Some(extra) = names.iter().find(|n| !n.ends_with('/') && !listed.contains(*n)) {
        return Err(format!("{extra} is in the wheel but not in its RECORD"));
    }
    Ok(Wheel {
        name,
        version,
        build: parsed.build,
        python_tag: parsed.python,
        abi_tag: parsed.abi,
        platform_tag: parsed.platform,
        top_level,
        files: listed.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn digest(b: &[u8]) -> String {
        format!("sha256={}", URL_SAFE_NO_PAD.encode(Sha256::digest(b)))
    }

    /// A wheel of hello-ext 0.1.0 with `files`, WHEEL tag `tag`, and `record`
    /// as its RECORD (a correct one when `None`).
    fn wheel(files: &[(&str, &[u8])], record: Option<&str>, tag: &str) -> Vec<u8> {
        let di = "hello_ext-0.1.0.dist-info";
        let mut all: Vec<(String, Vec<u8>)> = files.iter().map(|(p, b)| (p.to_string(), b.to_vec())).collect();
        all.push((format!("{di}/WHEEL"), format!("Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n").into()));
        all.push((
            format!("{di}/METADATA"),
            b"Metadata-Version: 2.1\nName: hello-ext\nVersion: 0.1.0\n\nbody".to_vec(),
        ));
        all.push((format!("{di}/top_level.txt"), b"hello_ext\n".to_vec()));
        let mut rec: String = all.iter().map(|(p, b)| format!("{p},{},{}\n", digest(b), b.len())).collect();
        rec.push_str(&format!("{di}/RECORD,,\n"));
        let rec = record.map(String::from).unwrap_or(rec);
        all.push((format!("{di}/RECORD"), rec.into_bytes()));
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (p, b) in all {
            zip.start_file(p, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(&b).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    const NAME: &str = "hello_ext-0.1.0-cp311-cp311-linux_x86_64.whl";

    #[test]
    fn reads_tags_and_metadata() {
        let w =
            check(NAME, &wheel(&[("hello_ext/__init__.py", b"x = 1\n")], None, "cp311-cp311-linux_x86_64")).unwrap();
        assert_eq!((w.name.as_str(), w.version.as_str()), ("hello-ext", "0.1.0"));
        assert_eq!(
            (w.python_tag.as_str(), w.abi_tag.as_str(), w.platform_tag.as_str()),
            ("cp311", "cp311", "linux_x86_64")
        );
        assert_eq!(w.top_level, ["hello_ext"]);
        assert_eq!(w.files, 5);
    }

    #[test]
    fn a_changed_file_breaks_the_record() {
        let di = "hello_ext-0.1.0.dist-info";
        let bad_record = format!("hello_ext/__init__.py,{},6\n{di}/RECORD,,\n", digest(b"x = 2\n"));
        let err = check(
            NAME,
            &wheel(&[("hello_ext/__init__.py", b"x = 1\n")], Some(&bad_record), "cp311-cp311-linux_x86_64"),
        )
        .unwrap_err();
        assert!(err.starts_with("hello_ext/__init__.py does not match its RECORD hash"), "{err}");
    }

    #[test]
    fn unlisted_files_wrong_tags_and_bad_names_are_errors() {
        let di = "hello_ext-0.1.0.dist-info";
        let partial = format!("{di}/RECORD,,\n");
        let err = check(NAME, &wheel(&[("hello_ext/__init__.py", b"")], Some(&partial), "cp311-cp311-linux_x86_64"))
            .unwrap_err();
        assert!(err.contains("is in the wheel but not in its RECORD"), "{err}");
        let err = check(NAME, &wheel(&[], None, "py3-none-any")).unwrap_err();
        assert!(err.contains("differ from"), "{err}");
        assert!(check("hello.whl", b"").unwrap_err().contains("file name"));
        assert!(check(NAME, b"not a zip").unwrap_err().starts_with("not a valid zip file"));
    }

    #[test]
    fn compressed_tag_sets_and_quoted_paths() {
        let w = check("hello_ext-0.1.0-py2.py3-none-any.whl", &wheel(&[], None, "py2-none-any\nTag: py3-none-any"));
        assert!(w.is_ok(), "{w:?}");
        assert_eq!(csv_fields(r#""a,""b"".py",sha256=x,3"#), ["a,\"b\".py", "sha256=x", "3"]);
        assert_eq!(normalize("Hello__Ext.x"), "hello-ext-x");
    }
}
