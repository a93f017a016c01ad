//! The Lox front end on morph-runtime (in progress).

fn main() {}
