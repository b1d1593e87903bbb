//! The server over HTTP: GraphQL append and reads, errors, negotiation.
