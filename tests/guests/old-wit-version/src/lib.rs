//! Exports `hostbuild:platform/plugin@0.1.0`: built for the previous contract.
wit_bindgen::generate!({ world: "platform", path: "wit" });

struct Past;

impl exports::hostbuild::platform::plugin::Guest for Past {
    fn describe() -> String {
        "from the past".into()
    }
}

export!(Past);
