//! Container registries: the credentials of the docker config (never lent
//! to a plugin), the checks an image artifact passes before anything is
//! tagged (`checked`), and publishing: tag, push each platform's image,
//! push an OCI index over several.

pub mod checked;
pub mod credentials;
pub mod publish;
