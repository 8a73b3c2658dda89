//! The artifact repository's data model, independent of where it is stored:
//! the key layout (MXNet's), the `.meta` property files, the manifest that
//! marks a set complete, and the characteristics that name a set.

pub mod characteristics;
pub mod checked;
pub mod layout;
pub mod manifest;
pub mod meta;
pub mod publish;
pub mod pull;
