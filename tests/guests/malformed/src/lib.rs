//! `describe` returns a version that is not semver and a duplicated option.
use hostbuild_sdk::*;

struct Malformed;

impl Platform for Malformed {
    fn describe() -> Description {
        Description::new("malformed", "one.two", "Returns malformed data")
            .option(OptionSpec::text("mode", "first"))
            .option(OptionSpec::text("mode", "second"))
    }
    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(Vec::new())
    }
}

export_platform!(Malformed);
