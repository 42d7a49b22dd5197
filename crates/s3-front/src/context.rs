use std::sync::{Arc, OnceLock};

use metrics::SharedString;

/// What the gateway learns about one request while handling it: its id, and once
/// authorized, its tenant and S3 operation. Shared by the access log and metrics.
#[derive(Debug)]
pub struct RequestContext {
    /// Request id returned as `x-amz-request-id`, in error bodies and in logs.
    pub id: String,
    tenant: OnceLock<Arc<str>>,
    operation: OnceLock<Arc<str>>,
}

impl RequestContext {
    /// A context with a fresh random id.
    pub fn new() -> Self {
        Self { id: uuid::Uuid::new_v4().simple().to_string(), tenant: OnceLock::new(), operation: OnceLock::new() }
    }

    /// Records the authorized tenant and the operation.
    pub(crate) fn authorize(&self, tenant: &Arc<str>, operation: Arc<str>) {
        let _ = self.tenant.set(Arc::clone(tenant));
        let _ = self.operation.set(operation);
    }

    /// The tenant name, or `-` when the request was not authorized.
    pub fn tenant(&self) -> &str {
        self.tenant.get().map_or("-", |t| t)
    }

    /// The S3 operation name, or `-` when the request was not authorized.
    pub fn operation(&self) -> &str {
        self.operation.get().map_or("-", |o| o)
    }

    /// The tenant and operation as metric label values (shared, not copied).
    pub(crate) fn labels(&self) -> (SharedString, SharedString) {
        let label = |value: Option<&Arc<str>>| value.map_or(SharedString::const_str("-"), |v| Arc::clone(v).into());
        (label(self.tenant.get()), label(self.operation.get()))
    }
}

impl Default for RequestContext {
    fn default() -> Self {
        Self::new()
    }
}
