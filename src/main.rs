fn main() {
    println!("{}", haresign::version());
}
