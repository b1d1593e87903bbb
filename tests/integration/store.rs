//! The store API on real databases.
