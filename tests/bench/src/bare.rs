//! `mallguard-bench bare-axum`: the HTTP floor. The same framework and runtime as `mallguard serve`, one
//! POST route that reads the body and answers what ingest answers, and nothing else: the CPU it spends per
//! request is what HTTP alone costs, so the server's figure minus this one is mallguard's own work.

use axum::Json;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::{Value, json};

pub fn serve(port: u16) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let router = axum::Router::new().route("/webhooks/generic", post(accept));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // The parent reads the address from this line (as it reads mallguard's banner).
        println!("listening on http://{addr}");
        axum::serve(listener, router).await.map_err(|e| e.to_string())
    })
}

async fn accept(body: Bytes) -> Json<Value> {
    // The body is read in full before the answer, as ingest reads it to check the signature.
    std::hint::black_box(body.len());
    Json(json!({ "status": "accepted" }))
}
