//! Exports `hostbuild:platform/plugin@0.3.0`, which this host does not speak.
wit_bindgen::generate!({ world: "platform", path: "wit" });

struct Future;

impl exports::hostbuild::platform::plugin::Guest for Future {
    fn describe() -> String {
        "from the future".into()
    }
}

export!(Future);
