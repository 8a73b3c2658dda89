//! Container registries: the credentials of the docker config (never lent
//! to a plugin) and publishing the images a platform reports as artifacts:
//! tag, push each platform's image, push an OCI index over several.

pub mod credentials;
pub mod publish;
