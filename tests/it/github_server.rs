//! The local GitHub releases server (support/github.rs) answers as GitHub documents
//! (<https://docs.github.com/en/rest/releases>), so tests of otactl can trust it.

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::github::{AssetState, Fault, GitHubServer, Host, Route};
use crate::support::keys::hex;

const TOKEN: &str = "ghp_testtoken";
const REPO: &str = "acme/firmware";

/// Reads a JSON body (the crate's reqwest has no `json` feature).
trait ReadJson {
    fn read_json<T: serde::de::DeserializeOwned>(self) -> serde_json::Result<T>;
}

impl ReadJson for Response {
    fn read_json<T: serde::de::DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.bytes().unwrap())
    }
}

/// Sends a JSON body.
trait JsonBody {
    fn json_body(self, value: &Value) -> Self;
}

impl JsonBody for RequestBuilder {
    fn json_body(self, value: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(serde_json::to_vec(value).unwrap())
    }
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The string field `key` of `value`.
fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {value}"))
}

/// `DELETE` an asset by its API `url`, which must answer 204.
fn delete_asset(asset: &Value) {
    let res = client()
        .delete(text(asset, "url"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

/// For each request the server got on `host`, whether it carried `Authorization`.
fn authorizations(server: &GitHubServer, host: Host) -> Vec<bool> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.host == host)
        .map(|r| r.authorization)
        .collect()
}

/// `PATCH` a draft to `{"draft": false}`: publishes it.
fn publish(server: &GitHubServer, draft: &Value) -> reqwest::blocking::Response {
    client()
        .patch(server.api_url(&format!("repos/{REPO}/releases/{}", draft["id"])))
        .bearer_auth(TOKEN)
        .json_body(&json!({"draft": false}))
        .send()
        .unwrap()
}

/// A server holding one release of `tag` (a draft or not) with one uploaded asset;
/// returns the server and the asset's JSON.
fn with_one_asset(tag: &str, draft: bool, name: &str, bytes: &[u8]) -> (GitHubServer, Value) {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, tag, draft);
    let asset = upload(&release, name, bytes.to_vec()).read_json().unwrap();
    (server, asset)
}

fn get(server: &GitHubServer, path: &str) -> Response {
    client()
        .get(server.api_url(path))
        .bearer_auth(TOKEN)
        .header("Accept", "application/vnd.github+json")
        .send()
        .unwrap()
}

fn create(server: &GitHubServer, tag: &str, draft: bool) -> Value {
    let res = client()
        .post(server.api_url(&format!("repos/{REPO}/releases")))
        .bearer_auth(TOKEN)
        .json_body(
            &json!({"tag_name": tag, "name": tag, "draft": draft, "target_commitish": "main"}),
        )
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.read_json().unwrap()
}

/// Expands the `{?name,label}` template of `upload_url` with a name.
fn upload_target(release: &Value, name: &str) -> String {
    let template = text(release, "upload_url");
    let base = template.strip_suffix("{?name,label}").unwrap();
    format!("{base}?name={name}")
}

fn upload(release: &Value, name: &str, body: Vec<u8>) -> Response {
    client()
        .post(upload_target(release, name))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[test]
fn github_server_create_and_find_published_release_by_tag() {
    let server = GitHubServer::with_token(TOKEN);
    let created = create(&server, "v1.0.0", false);
    assert_eq!(created["tag_name"], "v1.0.0");
    assert_eq!(created["draft"], false);
    assert_eq!(created["target_commitish"], "main");
    assert!(
        text(&created, "upload_url")
            .starts_with(&format!("http://127.0.0.1:{}/", server.upload_port)),
        "{created}"
    );
    assert!(
        text(&created, "upload_url").ends_with("/assets{?name,label}"),
        "{created}"
    );
    let res = get(&server, &format!("repos/{REPO}/releases/tags/v1.0.0"));
    assert_eq!(res.status(), StatusCode::OK);
    let found: Value = res.read_json().unwrap();
    assert_eq!(found["id"], created["id"]);
    assert_eq!(found["assets"], json!([]));
}

#[test]
fn github_server_draft_is_not_found_by_tag_until_published() {
    let server = GitHubServer::with_token(TOKEN);
    let draft = create(&server, "v2.0.0", true);
    assert!(text(&draft, "html_url").contains("untagged-"), "{draft}");
    let res = get(&server, &format!("repos/{REPO}/releases/tags/v2.0.0"));
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.read_json().unwrap();
    assert_eq!(body["message"], "Not Found");

    let res = publish(&server, &draft);
    assert_eq!(res.status(), StatusCode::OK);
    let published: Value = res.read_json().unwrap();
    assert_eq!(published["draft"], false);
    assert!(
        text(&published, "html_url").ends_with("/releases/tag/v2.0.0"),
        "{published}"
    );
    let res = get(&server, &format!("repos/{REPO}/releases/tags/v2.0.0"));
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn github_server_list_releases_pages_link_to_the_next() {
    let server = GitHubServer::with_token(TOKEN);
    for i in 0..5 {
        create(&server, &format!("v0.{i}.0"), i == 4);
    }
    let mut path = format!("repos/{REPO}/releases?per_page=2&page=1");
    let mut tags = Vec::new();
    let mut pages = 0;
    loop {
        let res = get(&server, &path);
        assert_eq!(res.status(), StatusCode::OK);
        let link = res
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Vec<Value> = res.read_json().unwrap();
        assert!(page.len() <= 2);
        tags.extend(page.iter().map(|r| text(r, "tag_name").to_owned()));
        pages += 1;
        let next = link.as_deref().and_then(|link| {
            link.split(", ")
                .find(|part| part.ends_with("rel=\"next\""))
                .map(|part| part[1..part.find('>').unwrap()].to_owned())
        });
        let Some(next) = next else { break };
        let prefix = server.api_base() + "/";
        path = next.strip_prefix(&prefix).unwrap().to_owned();
    }
    assert_eq!(pages, 3);
    // Newest first, the draft included.
    assert_eq!(tags, ["v0.4.0", "v0.3.0", "v0.2.0", "v0.1.0", "v0.0.0"]);
}

#[test]
fn github_server_upload_records_size_and_digest_and_refuses_the_same_name() {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, "v1.0.0", false);
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let res = upload(&release, "fw.tar.gz", bytes.clone());
    assert_eq!(res.status(), StatusCode::CREATED);
    let asset: Value = res.read_json().unwrap();
    assert_eq!(asset["name"], "fw.tar.gz");
    assert_eq!(asset["state"], "uploaded");
    assert_eq!(asset["size"], 300_000);
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    assert_eq!(asset["digest"], digest.as_str());

    let res = upload(&release, "fw.tar.gz", b"other".to_vec());
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.read_json().unwrap();
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"],
        json!([{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
    );

    let releases = server.releases();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].assets.len(), 1);
    assert_eq!(releases[0].assets[0].size, 300_000);
    assert_eq!(
        releases[0].assets[0].digest.as_deref(),
        Some(digest.as_str())
    );
}

#[test]
fn github_server_list_and_delete_assets() {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, "v1.0.0", false);
    for name in ["a.bin", "b.bin", "c.bin"] {
        assert_eq!(
            upload(&release, name, name.as_bytes().to_vec()).status(),
            StatusCode::CREATED
        );
    }
    let res = get(
        &server,
        &format!("repos/{REPO}/releases/{}/assets?per_page=2", release["id"]),
    );
    assert!(
        res.headers()["link"]
            .to_str()
            .unwrap()
            .contains("page=2>; rel=\"next\"")
    );
    let page: Vec<Value> = res.read_json().unwrap();
    assert_eq!(page.len(), 2);
    delete_asset(&page[0]);
    let names: Vec<String> = server.releases()[0]
        .assets
        .iter()
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(names, ["b.bin", "c.bin"]);
}

#[test]
fn github_server_download_redirects_to_another_host_and_records_authorization() {
    let (server, asset) = with_one_asset("v1.0.0", false, "fw.bin", b"firmware bytes");
    let url = text(&asset, "browser_download_url");
    assert_eq!(
        url,
        server.api_url(&format!("{REPO}/releases/download/v1.0.0/fw.bin"))
    );

    let res = client().get(url).send().unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("http://127.0.0.1:{}/", server.objects_port)),
        "{location}"
    );
    assert_ne!(server.objects_port, server.api_port);

    // Without Authorization the redirect host serves the bytes and saw none.
    let res = client().get(&location).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().unwrap().as_ref(), b"firmware bytes");
    assert!(!server.redirect_host_saw_authorization());

    // A client that carries the token across the redirect is seen.
    let res = client().get(&location).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(server.redirect_host_saw_authorization());

    let objects = authorizations(&server, Host::Objects);
    assert_eq!(objects, [false, true]);
}

#[test]
fn github_server_draft_asset_download_is_not_found() {
    let (server, asset) = with_one_asset("v3.0.0", true, "fw.bin", b"draft bytes");
    let url = text(&asset, "browser_download_url");
    assert!(url.contains("/releases/download/untagged-"), "{url}");
    assert_eq!(
        client().get(url).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Nor by its tag, while it is a draft.
    let by_tag = server.api_url(&format!("{REPO}/releases/download/v3.0.0/fw.bin"));
    assert_eq!(
        client().get(by_tag).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(!server.redirect_host_saw_authorization());
}

#[test]
fn github_server_rate_limit_headers_and_token() {
    let server = GitHubServer::with_token(TOKEN);
    let first = get(&server, &format!("repos/{REPO}/releases"));
    let second = client()
        .get(server.api_url(&format!("repos/{REPO}/releases")))
        .send()
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let header = |res: &Response, name: &str| -> u64 {
        res.headers()[name].to_str().unwrap().parse().unwrap()
    };
    for res in [&first, &second] {
        assert_eq!(header(res, "x-ratelimit-limit"), 5000);
        assert!(header(res, "x-ratelimit-reset") > 1_700_000_000);
    }
    assert!(header(&second, "x-ratelimit-remaining") < header(&first, "x-ratelimit-remaining"));
    let body: Value = second.read_json().unwrap();
    assert_eq!(body["message"], "Bad credentials");

    let wrong = client()
        .get(server.api_url(&format!("repos/{REPO}/releases")))
        .bearer_auth("ghp_wrong")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // The requests are recorded, and whether they were authorised, never the token.
    let seen: Vec<bool> = server.requests().iter().map(|r| r.authorization).collect();
    assert_eq!(seen, [true, false, true]);
    assert!(!format!("{:?}", server.requests()).contains(TOKEN));
}

#[test]
fn github_server_injected_faults_answer_once_then_normal() {
    let server = GitHubServer::with_token(TOKEN);
    create(&server, "v1.0.0", false);
    let path = format!("repos/{REPO}/releases/tags/v1.0.0");
    server.inject(
        Route::ReleaseByTag,
        [
            Fault::Status(502),
            Fault::SecondaryRateLimit,
            Fault::TooManyRequests,
            Fault::DropMidBody,
        ],
    );
    assert_eq!(get(&server, &path).status(), StatusCode::BAD_GATEWAY);

    let limited = get(&server, &path);
    assert_eq!(limited.status(), StatusCode::FORBIDDEN);
    assert_eq!(limited.headers()["retry-after"], "1");
    let body: Value = limited.read_json().unwrap();
    assert!(
        text(&body, "message").contains("secondary rate limit"),
        "{body}"
    );

    let too_many = get(&server, &path);
    assert_eq!(too_many.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(too_many.headers()["x-ratelimit-remaining"], "0");

    let dropped = get(&server, &path);
    assert_eq!(dropped.status(), StatusCode::OK);
    assert!(dropped.bytes().is_err(), "the body must end early");

    let res = get(&server, &path);
    assert_eq!(res.status(), StatusCode::OK);
    let release: Value = res.read_json().unwrap();
    assert_eq!(release["tag_name"], "v1.0.0");
    // Other routes were never affected.
    assert_eq!(
        get(&server, &format!("repos/{REPO}/releases")).status(),
        StatusCode::OK
    );
}

#[test]
fn github_server_upload_cut_midway_leaves_a_starter_asset() {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, "v1.0.0", false);
    server.inject(Route::UploadAsset, [Fault::StopUploadAfter(1000)]);
    let res = client()
        .post(upload_target(&release, "fw.bin"))
        .bearer_auth(TOKEN)
        .body(vec![7u8; 200_000])
        .send();
    assert!(res.is_err(), "the upload must fail: {res:?}");
    let assets = &server.releases()[0].assets;
    assert_eq!(assets.len(), 1);
    assert_eq!(assets[0].state, AssetState::Starter);
    assert_eq!(assets[0].digest, None);

    // GitHub lists it as `starter`, and the name stays taken until it is deleted.
    let listed: Vec<Value> = get(
        &server,
        &format!("repos/{REPO}/releases/{}/assets", release["id"]),
    )
    .read_json()
    .unwrap();
    assert_eq!(listed[0]["state"], "starter");
    assert_eq!(listed[0]["digest"], Value::Null);
    assert_eq!(
        upload(&release, "fw.bin", b"again".to_vec()).status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    delete_asset(&listed[0]);
    assert_eq!(
        upload(&release, "fw.bin", b"again".to_vec()).status(),
        StatusCode::CREATED
    );
}

#[test]
fn github_server_upload_host_asks_for_the_token_and_sends_rate_limit_headers() {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, "v1.0.0", false);
    let res = client()
        .post(upload_target(&release, "fw.bin"))
        .body(b"bytes".to_vec())
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["x-ratelimit-limit"], "5000");
    assert!(res.headers().contains_key("x-ratelimit-remaining"));
    assert!(res.headers().contains_key("x-ratelimit-reset"));
    assert!(server.releases()[0].assets.is_empty());
    let uploads = authorizations(&server, Host::Uploads);
    assert_eq!(uploads, [false]);
}

#[test]
fn github_server_upload_fault_answered_once_then_the_upload_succeeds() {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, "v1.0.0", false);
    server.inject(Route::UploadAsset, [Fault::Status(503)]);
    let res = upload(&release, "fw.bin", vec![1u8; 100_000]);
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(server.releases()[0].assets.is_empty());
    let res = upload(&release, "fw.bin", vec![1u8; 100_000]);
    assert_eq!(res.status(), StatusCode::CREATED);
    let asset = &server.releases()[0].assets[0];
    assert_eq!(asset.state, AssetState::Uploaded);
    assert_eq!(asset.size, 100_000);
}

#[test]
fn github_server_publishing_onto_a_taken_tag_is_refused() {
    let server = GitHubServer::with_token(TOKEN);
    // A draft does not hold its tag; a published release does.
    let draft = create(&server, "v1.0.0", true);
    create(&server, "v1.0.0", false);
    let res = publish(&server, &draft);
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.read_json().unwrap();
    assert_eq!(body["errors"][0]["code"], "already_exists");
    assert!(server.releases()[0].draft, "the draft stays a draft");
    let res = client()
        .post(server.api_url(&format!("repos/{REPO}/releases")))
        .bearer_auth(TOKEN)
        .json_body(&json!({"tag_name": "v1.0.0", "draft": true}))
        .send()
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
