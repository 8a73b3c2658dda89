use std::time::Instant;

use crate::runtime::bindings::artifacts::{Host, StoreError};
use crate::runtime::HostState;

impl HostState {
    fn publish_granted(&self) -> Result<(), StoreError> {
        match &self.lent.allowed {
            Some(c) if c.publish => Ok(()),
            _ => Err(StoreError::Denied(
                "access denied: `publish` was not declared by the plugin, or not granted to it".into(),
            )),
        }
    }
}

impl Host for HostState {
    async fn exists(&mut self, key: String) -> wasmtime::Result<Result<bool, StoreError>> {
        if let Err(e) = self.publish_granted() {
            return Ok(Err(e));
        }
        let (store, started) = (self.lent.artifacts.clone(), Instant::now());
        let result = store.exists(&key).await;
        self.clock.host_call_ended(started);
        Ok(result)
    }

    async fn publish(&mut self, path: String, key: String) -> wasmtime::Result<Result<(), StoreError>> {
        if let Err(e) = self.publish_granted() {
            return Ok(Err(e));
        }
        let (store, started) = (self.lent.artifacts.clone(), Instant::now());
        let result = store.publish(&path, &key).await;
        self.clock.host_call_ended(started);
        Ok(result)
    }

    async fn fetch(&mut self, key: String, path: String) -> wasmtime::Result<Result<(), StoreError>> {
        if let Err(e) = self.publish_granted() {
            return Ok(Err(e));
        }
        let (store, started) = (self.lent.artifacts.clone(), Instant::now());
        let result = store.fetch(&key, &path).await;
        self.clock.host_call_ended(started);
        Ok(result)
    }
}
