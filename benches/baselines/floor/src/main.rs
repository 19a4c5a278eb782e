//! The floor of the cold-start bench: a static 302 with the referral cookie.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Response::builder()
            .status(302)
            .header("location", "https://www.example.com/")
            .header("set-cookie", "ref=K7M2XQ; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax")
            .body(Body::Empty)
            .map_err(Error::from)
    }))
    .await
}
