//! Connecting to the Docker engine as the docker CLI does (`DOCKER_HOST`,
//! else the local socket), with the API version negotiated down to what the
//! engine speaks (Debian's docker.io 20.10 speaks 1.41).

use std::time::Duration;

use bollard::Docker;

/// What the engine says about itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineInfo {
    pub endpoint: String,
    pub version: String,
    pub api_version: String,
    pub runtimes: Vec<String>,
}

/// The engine cannot be reached.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker engine at {endpoint}: {reason}")]
pub struct EngineUnreachable {
    pub endpoint: String,
    pub reason: String,
}

/// Where the engine is expected: `DOCKER_HOST` or the default socket.
pub fn endpoint() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Connects, negotiates the API version and reads version and runtimes.
/// The engine as every command but `doctor` reaches it: 10 s to answer,
/// the failure as the `EngineError` the diagnostics know.
pub async fn connect_default() -> Result<(Docker, EngineInfo), super::EngineError> {
    Ok(connect(Duration::from_secs(10)).await?)
}

pub async fn connect(timeout: Duration) -> Result<(Docker, EngineInfo), EngineUnreachable> {
    let endpoint = endpoint();
    let unreachable = |reason: String| EngineUnreachable { endpoint: endpoint.clone(), reason };
    let probe = async {
        let docker = Docker::connect_with_defaults().map_err(|e| e.to_string())?;
        let docker = docker.negotiate_version().await.map_err(|e| e.to_string())?;
        let version = docker.version().await.map_err(|e| e.to_string())?;
        let info = docker.info().await.map_err(|e| e.to_string())?;
        let mut runtimes: Vec<String> = info.runtimes.unwrap_or_default().into_keys().collect();
        runtimes.sort();
        Ok::<_, String>((docker, version, runtimes))
    };
    let (docker, version, runtimes) = tokio::time::timeout(timeout, probe)
        .await
        .map_err(|_| unreachable(format!("no answer within {}s", timeout.as_secs())))?
        .map_err(unreachable)?;
    let info = EngineInfo {
        endpoint: endpoint.clone(),
        version: version.version.unwrap_or_default(),
        api_version: docker.client_version().to_string(),
        runtimes,
    };
    Ok((docker, info))
}
