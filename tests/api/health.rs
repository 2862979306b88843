use reqwest::StatusCode;

use crate::helpers::{spawn_app, Backend};

async fn healthz_and_readyz_answer_when_the_database_is_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    let expected = match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    };
    assert_eq!(body["database"], expected);
    app.stop().await;
}

crate::on_both_backends!(healthz_and_readyz_answer_when_the_database_is_up);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_503_when_postgres_is_gone_and_healthz_stays_200() {
    if crate::helpers::skip(Backend::Postgres) {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    app.db.drop_now().await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
