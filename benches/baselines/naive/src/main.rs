//! The naive SDK baseline of the cold-start bench: count the click, set the cookie, 302.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TABLE_NAME")?;
    let (client, table) = (&client, &table);
    lambda_http::run(service_fn(move |req: Request| async move {
        let code = req.query_string_parameters_ref().and_then(|q| q.first("ref")).unwrap_or_default().to_uppercase();
        let shard = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos() % 16;
        client
            .update_item()
            .table_name(table)
            .key("PK", AttributeValue::S(format!("CODE#{code}#C{shard}")))
            .key("SK", AttributeValue::S("CLICKS".into()))
            .update_expression("ADD clicks :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await?;
        Response::builder()
            .status(302)
            .header("location", "https://www.example.com/")
            .header("set-cookie", format!("ref={code}; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax"))
            .body(Body::Empty)
            .map_err(Error::from)
    }))
    .await
}
