//! Rebuilds the server when the built pages change: the embedded assets
//! (`src/http/ui.rs`) are read at compile time, and a new build's files
//! have new names that the compiler would not otherwise notice.

fn main() {
    println!("cargo:rerun-if-changed=dashboard/dist");
}
