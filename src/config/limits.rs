//! What one request may ask of the server, and what one event may hold.

use clap::Args;

/// What one request may ask of the server. Each bound is checked before
/// the request runs (or, for the response, before it is sent) and refused
/// with `BAD_USER_INPUT` (`extensions.limit` names the bound); the defaults
/// are far above what a legitimate client sends.
#[derive(Debug, Clone, Args)]
pub struct RequestLimits {
    /// Largest HTTP request body, in bytes (413 beyond it).
    #[arg(long, env = "CHRONICLE_MAX_BODY_BYTES", default_value_t = RequestLimits::BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Largest GraphQL document (the query text), in bytes.
    #[arg(long, env = "CHRONICLE_MAX_DOCUMENT_BYTES", default_value_t = RequestLimits::DOCUMENT_BYTES)]
    pub max_document_bytes: usize,

    /// Largest `variables` object, in bytes of JSON.
    #[arg(long, env = "CHRONICLE_MAX_VARIABLES_BYTES", default_value_t = RequestLimits::VARIABLES_BYTES)]
    pub max_variables_bytes: usize,

    /// Deepest nesting of brackets in a document (selection sets,
    /// arguments, list and object literals), checked before it is parsed.
    #[arg(long, env = "CHRONICLE_MAX_NESTING", default_value_t = RequestLimits::NESTING)]
    pub max_nesting: usize,

    /// Most fields a document selects once its fragments are expanded.
    #[arg(long, env = "CHRONICLE_MAX_SELECTIONS", default_value_t = RequestLimits::SELECTIONS)]
    pub max_selections: usize,

    /// Most aliased fields a document selects once its fragments are
    /// expanded.
    #[arg(long, env = "CHRONICLE_MAX_ALIASES", default_value_t = RequestLimits::ALIASES)]
    pub max_aliases: usize,

    /// Highest query cost: each field costs 1, and a paged list multiplies
    /// its items' cost by its `first` (or `last`, or the default page size).
    #[arg(long, env = "CHRONICLE_MAX_COMPLEXITY", default_value_t = RequestLimits::COMPLEXITY)]
    pub max_complexity: usize,

    /// Deepest selection of fields.
    #[arg(long, env = "CHRONICLE_MAX_QUERY_DEPTH", default_value_t = RequestLimits::QUERY_DEPTH)]
    pub max_query_depth: usize,

    /// Most directives on one field.
    #[arg(long, env = "CHRONICLE_MAX_DIRECTIVES", default_value_t = RequestLimits::DIRECTIVES)]
    pub max_directives: usize,

    /// Longest list argument (an append's events, a filter's types).
    #[arg(long, env = "CHRONICLE_MAX_LIST_LENGTH", default_value_t = RequestLimits::LIST_LENGTH)]
    pub max_list_length: usize,

    /// Longest String or ID argument, in bytes (JSON values are bounded by
    /// the event limits instead).
    #[arg(long, env = "CHRONICLE_MAX_STRING_BYTES", default_value_t = RequestLimits::STRING_BYTES)]
    pub max_string_bytes: usize,

    /// Largest response body, in bytes.
    #[arg(long, env = "CHRONICLE_MAX_RESPONSE_BYTES", default_value_t = RequestLimits::RESPONSE_BYTES)]
    pub max_response_bytes: usize,

    /// Most operations in one batched request (a JSON array).
    #[arg(long, env = "CHRONICLE_MAX_BATCH_SIZE", default_value_t = RequestLimits::BATCH_SIZE)]
    pub max_batch_size: usize,

    /// Memory for automatic persisted queries (the texts clients
    /// registered by hash), in bytes; the least recently used go first.
    #[arg(long, env = "CHRONICLE_PERSISTED_QUERY_CACHE_BYTES", default_value_t = RequestLimits::PERSISTED_QUERY_CACHE_BYTES)]
    pub persisted_query_cache_bytes: u64,
}

impl RequestLimits {
    pub const BODY_BYTES: usize = 16 * 1024 * 1024;
    pub const DOCUMENT_BYTES: usize = 256 * 1024;
    pub const VARIABLES_BYTES: usize = 8 * 1024 * 1024;
    pub const NESTING: usize = 64;
    pub const SELECTIONS: usize = 5_000;
    pub const ALIASES: usize = 100;
    pub const COMPLEXITY: usize = 50_000;
    pub const QUERY_DEPTH: usize = 16;
    pub const DIRECTIVES: usize = 20;
    pub const LIST_LENGTH: usize = 10_000;
    pub const STRING_BYTES: usize = 64 * 1024;
    pub const RESPONSE_BYTES: usize = 32 * 1024 * 1024;
    pub const BATCH_SIZE: usize = 20;
    pub const PERSISTED_QUERY_CACHE_BYTES: u64 = 16 * 1024 * 1024;
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: Self::BODY_BYTES,
            max_document_bytes: Self::DOCUMENT_BYTES,
            max_variables_bytes: Self::VARIABLES_BYTES,
            max_nesting: Self::NESTING,
            max_selections: Self::SELECTIONS,
            max_aliases: Self::ALIASES,
            max_complexity: Self::COMPLEXITY,
            max_query_depth: Self::QUERY_DEPTH,
            max_directives: Self::DIRECTIVES,
            max_list_length: Self::LIST_LENGTH,
            max_string_bytes: Self::STRING_BYTES,
            max_response_bytes: Self::RESPONSE_BYTES,
            max_batch_size: Self::BATCH_SIZE,
            persisted_query_cache_bytes: Self::PERSISTED_QUERY_CACHE_BYTES,
        }
    }
}

/// What an event may hold: everything the store accepts, it reads back.
#[derive(Debug, Clone, Copy, Args)]
pub struct EventLimits {
    /// Largest event, in bytes of JSON (`data` and `metadata` together).
    #[arg(long, env = "CHRONICLE_MAX_EVENT_BYTES", default_value_t = EventLimits::EVENT_BYTES)]
    pub max_event_bytes: usize,

    /// Deepest nesting of arrays and objects in an event's `data` or
    /// `metadata`. The JSON decoder that reads events back stops at 128,
    /// so this may not exceed 100.
    #[arg(long, env = "CHRONICLE_MAX_EVENT_DEPTH", default_value_t = EventLimits::EVENT_DEPTH,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_event_depth: u32,
}

impl EventLimits {
    pub const EVENT_BYTES: usize = 64 * 1024;
    pub const EVENT_DEPTH: u32 = 32;
}

impl Default for EventLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: Self::EVENT_BYTES,
            max_event_depth: Self::EVENT_DEPTH,
        }
    }
}
