use crate::bindings::hostbuild::platform::types as t;

/// An option's value, already checked by the host against its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Boolean(bool),
    Integer(i64),
}

/// The options of this run: what the user gave, else the defaults.
#[derive(Debug, Clone, Default)]
pub struct Options {
    values: Vec<(String, Value)>,
}

impl Options {
    pub(crate) fn from_wit(list: Vec<t::OptionValue>) -> Self {
        let values = list
            .into_iter()
            .map(|o| {
                let v = match o.value {
                    t::TypedValue::Text(s) => Value::Text(s),
                    t::TypedValue::Boolean(b) => Value::Boolean(b),
                    t::TypedValue::Integer(i) => Value::Integer(i),
                };
                (o.name, v)
            })
            .collect();
        Self { values }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    /// A text or choice option; `None` when absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }
    /// A boolean option; `false` when absent.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Boolean(true)))
    }
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.get(name) {
            Some(Value::Integer(i)) => Some(*i),
            _ => None,
        }
    }
}

/// What `build` and `detect_artifacts` learn about the run.
#[derive(Debug, Clone)]
pub struct Context {
    /// Unique id of this run.
    pub run_id: String,
    pub options: Options,
    /// Names of the images built from the recipes.
    pub images: Vec<String>,
}

impl Context {
    pub(crate) fn from_wit(ctx: t::BuildContext) -> Self {
        Self { run_id: ctx.run_id, options: Options::from_wit(ctx.options), images: ctx.images }
    }
}
