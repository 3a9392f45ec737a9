//! The inspection seam: where guardrails plug into the gateway, on both directions.
//!
//! An [`Inspector`] sees every authenticated model request after the body is parsed and the key's
//! limits admitted it, and before anything goes upstream. It may let it pass, flag it, rewrite
//! the body (redact), or block it — a block answers the client with an OpenAI-style error naming
//! the guardrail (`403`, type `guardrail_blocked`), and nothing is sent upstream.
//!
//! For the response it may hand out a [`ResponseInspector`] that sees the upstream body chunk by
//! chunk as it streams (SSE or not) and can pass, rewrite, hold back (return an empty chunk to
//! keep a window across chunk boundaries and release it later) or end the stream with a final
//! chunk of its own (e.g. an SSE error event). A non-SSE answer is read whole (up to 32 MiB)
//! and handed over as one chunk before any header is sent, so a refusal becomes a `403`.
//!
//! Every [`Decision`] is recorded in the request's audit record: the strongest action becomes
//! the record's `decision` (`block:<rule>`, `redact:<rule>`, `flag:<rule>`), and all decisions go
//! to its `detail` JSON under `"guardrails"`. Incident tracking can hang off the same records.

use bytes::Bytes;

use crate::metrics::Route;

/// What a guardrail decided (the guardrails crate's type: allow < flag < redact < block).
pub use rampart_guard::Action;

/// One guardrail decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The action.
    pub action: Action,
    /// Rule or guardrail id (shown to the client on a block; never the matched content).
    pub rule: String,
    /// A redacted note for the audit trail.
    pub note: String,
}

/// What an inspector knows about a request.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    /// The gateway's request id.
    pub request_id: String,
    /// The virtual key's id.
    pub key_id: String,
    /// The virtual key's name.
    pub key_name: String,
    /// Which endpoint.
    pub route: Route,
    /// The model as requested.
    pub model: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
}

/// What to do with one response chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Send these bytes to the client (the chunk itself, a rewrite, or empty to hold back).
    Send(Bytes),
    /// Send these bytes, then end the response; nothing more is read from upstream.
    End(Bytes),
}

/// Inspects one response as it streams.
pub trait ResponseInspector: Send {
    /// The next chunk from upstream.
    fn on_chunk(&mut self, chunk: Bytes) -> ChunkOutcome;
    /// Upstream ended: bytes still held back, if any.
    fn on_end(&mut self) -> Bytes;
    /// Decisions taken so far (drained).
    fn decisions(&mut self) -> Vec<Decision>;
}

/// Inspects requests (and hands out response inspectors).
pub trait Inspector: Send + Sync + 'static {
    /// Inspect and possibly rewrite the request body. Return the decisions taken; a
    /// [`Action::Block`] stops the request.
    fn inspect_request(&self, info: &RequestInfo, body: &mut Bytes) -> Vec<Decision>;
    /// A response inspector for this request, if the response should be inspected.
    fn response_inspector(&self, info: &RequestInfo) -> Option<Box<dyn ResponseInspector>>;
}
