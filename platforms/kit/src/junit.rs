//! Counting the test cases of a JUnit XML report as ctest writes it.

use hostbuild_sdk::TestSummary;

/// Counts `<testcase>` elements by their status, and names the failures.
pub fn summarize(xml: &str) -> (TestSummary, Vec<String>) {
    let mut summary = TestSummary { passed: 0, failed: 0, skipped: 0 };
    let mut failed = Vec::new();
    for case in xml.split("<testcase").skip(1) {
        let head = case.split('>').next().unwrap_or_default();
        let name = attribute(head, "name").unwrap_or("?");
        let status = attribute(head, "status").unwrap_or("");
        let body = case.split("</testcase>").next().unwrap_or_default();
        if body.contains("<failure") || body.contains("<error") || status == "fail" {
            summary.failed += 1;
            failed.push(name.to_string());
        } else if body.contains("<skipped") || status == "notrun" || status == "disabled" {
            summary.skipped += 1;
        } else {
            summary.passed += 1;
        }
    }
    (summary, failed)
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].split('"').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ctest_output() {
        let xml = r#"<testsuite tests="3"><testcase name="greeting" classname="greeting" time="0.1" status="run">
<system-out>PASS</system-out></testcase>
<testcase name="checksum" classname="checksum" time="0.1" status="fail"><failure message="Failed"/></testcase>
<testcase name="later" classname="later" time="0" status="notrun"><skipped/></testcase></testsuite>"#;
        let (s, failed) = summarize(xml);
        assert_eq!((s.passed, s.failed, s.skipped), (1, 1, 1));
        assert_eq!(failed, ["checksum"]);
    }
}
