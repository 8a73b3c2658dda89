//! The `artifacts` binding: `publish` is checked at every call, then the
//! call goes to the [`ArtifactStore`].

use std::future::Future;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::{ArtifactError, ArtifactStore};
use crate::capabilities::gate::Gate;
use crate::project::grants::Grant;
use crate::runtime::bindings::artifacts::{self as wit, Host, StoreError};

/// What an `artifacts` call sees: the repository, and the gate.
pub struct ArtifactsCtxView<'a> {
    pub store: &'a Arc<dyn ArtifactStore>,
    pub gate: &'a mut Gate,
}

/// A store's data that lends `artifacts`.
pub trait ArtifactsView: Send {
    fn artifacts(&mut self) -> ArtifactsCtxView<'_>;
}

struct HasArtifacts;

impl HasData for HasArtifacts {
    type Data<'a> = ArtifactsCtxView<'a>;
}

/// Links `hostbuild:platform/artifacts` alone.
pub fn add_to_linker<T: ArtifactsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasArtifacts>(linker, T::artifacts)
}

fn wit_error(e: ArtifactError) -> StoreError {
    match e {
        ArtifactError::NotConfigured => StoreError::NotConfigured,
        ArtifactError::Denied(m) => StoreError::Denied(m),
        ArtifactError::NotFound(m) => StoreError::NotFound(m),
        ArtifactError::AlreadyExists(m) => StoreError::AlreadyExists(m),
        ArtifactError::Unavailable(m) => StoreError::Unavailable(m),
        ArtifactError::Invalid(m) => StoreError::Invalid(m),
    }
}

impl ArtifactsCtxView<'_> {
    /// Every call: `publish` must be granted, then `call` on the store
    /// counts as host time.
    async fn granted<T, F>(&mut self, call: impl FnOnce(Arc<dyn ArtifactStore>) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, ArtifactError>>,
    {
        self.gate.require(&Grant::Publish).map_err(StoreError::Denied)?;
        let store = self.store.clone();
        self.gate.timed(call(store)).await.map_err(wit_error)
    }
}

impl Host for ArtifactsCtxView<'_> {
    async fn exists(&mut self, key: String) -> wasmtime::Result<Result<bool, StoreError>> {
        Ok(self.granted(|store| async move { store.exists(&key).await }).await)
    }

    async fn publish(&mut self, path: String, key: String) -> wasmtime::Result<Result<(), StoreError>> {
        Ok(self.granted(|store| async move { store.publish(&path, &key).await }).await)
    }

    async fn fetch(&mut self, key: String, path: String) -> wasmtime::Result<Result<(), StoreError>> {
        Ok(self.granted(|store| async move { store.fetch(&key, &path).await }).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Capabilities;

    /// Has every key, takes every file.
    struct Fake;

    #[async_trait::async_trait]
    impl ArtifactStore for Fake {
        async fn exists(&self, _key: &str) -> Result<bool, ArtifactError> {
            Ok(true)
        }
        async fn publish(&self, _output_path: &str, _key: &str) -> Result<(), ArtifactError> {
            Ok(())
        }
        async fn fetch(&self, key: &str, _output_path: &str) -> Result<(), ArtifactError> {
            Err(ArtifactError::NotFound(key.into()))
        }
    }

    struct Alone {
        store: Arc<dyn ArtifactStore>,
        gate: Gate,
    }

    impl ArtifactsView for Alone {
        fn artifacts(&mut self) -> ArtifactsCtxView<'_> {
            ArtifactsCtxView { store: &self.store, gate: &mut self.gate }
        }
    }

    #[tokio::test]
    async fn links_alone_and_reaches_the_store_only_with_publish() {
        let mut linker = Linker::<Alone>::new(crate::runtime::engine());
        add_to_linker(&mut linker).unwrap();
        let mut alone = Alone { store: Arc::new(Fake), gate: Gate::new("p") };
        let denied = Err(StoreError::Denied(Grant::Publish.denied()));
        assert_eq!(alone.artifacts().exists("k".into()).await.unwrap(), denied.clone().map(|()| true));
        assert_eq!(alone.artifacts().publish("a".into(), "k".into()).await.unwrap(), denied);
        alone.gate.allow(Capabilities { publish: true, ..Capabilities::default() });
        assert_eq!(alone.artifacts().exists("k".into()).await.unwrap(), Ok(true));
        assert_eq!(alone.artifacts().publish("a".into(), "k".into()).await.unwrap(), Ok(()));
        assert_eq!(
            alone.artifacts().fetch("k".into(), "a".into()).await.unwrap(),
            Err(StoreError::NotFound("k".into()))
        );
    }
}
