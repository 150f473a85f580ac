// sqlx::migrate! does not notice a new migration file on its own.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
