//! The local GitHub server (support/github.rs) answers as GitHub documents (releases:
//! <https://docs.github.com/en/rest/releases>; repositories, refs, comparisons,
//! contents and pull requests: support/github/repos.rs), so tests of otactl can trust
//! it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::github::{
    AssetState, FORBIDDEN_MESSAGE, Fault, GitHubServer, Host, IMMUTABLE_DELETE_MESSAGE,
    IMMUTABLE_UPLOAD_MESSAGE, PRIMARY_RATE_LIMIT_MESSAGE, Pull, Route,
};
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

/// `DELETE` an asset by its API `url`.
fn delete_request(asset: &Value) -> Response {
    client()
        .delete(text(asset, "url"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
}

/// `DELETE` an asset by its API `url`, which must answer 204.
fn delete_asset(asset: &Value) {
    assert_eq!(delete_request(asset).status(), StatusCode::NO_CONTENT);
}

/// `GET` an asset by its API `url` with `Accept: application/octet-stream`.
fn get_raw(asset: &Value) -> Response {
    client()
        .get(text(asset, "url"))
        .bearer_auth(TOKEN)
        .header("Accept", "application/octet-stream")
        .send()
        .unwrap()
}

/// The `Location` of `res`, a `302` to the objects host, and the bytes it serves
/// without `Authorization`.
fn follow_to_objects(server: &GitHubServer, res: &Response) -> (String, Vec<u8>) {
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let objects = format!("http://127.0.0.1:{}/objects/", server.objects_port);
    assert!(location.starts_with(&objects), "{location}");
    assert!(location.contains("?X-Amz-Signature="), "{location}");
    let res = client().get(&location).send().unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    (location, res.bytes().unwrap().to_vec())
}

/// Every item of a paginated list, following the `Link` header's `next`; and the
/// number of pages.
fn list_all(server: &GitHubServer, first: &str) -> (Vec<Value>, usize) {
    let mut path = first.to_owned();
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let res = get(server, &path);
        assert_eq!(res.status(), StatusCode::OK);
        let link = res
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Vec<Value> = res.read_json().unwrap();
        items.extend(page);
        pages += 1;
        let next = link.as_deref().and_then(|link| {
            link.split(", ")
                .find(|part| part.ends_with("rel=\"next\""))
                .map(|part| part[1..part.find('>').unwrap()].to_owned())
        });
        let Some(next) = next else {
            return (items, pages);
        };
        let prefix = server.api_base() + "/";
        next.strip_prefix(&prefix).unwrap().clone_into(&mut path);
    }
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

fn create_request(server: &GitHubServer, tag: &str, draft: bool) -> Response {
    client()
        .post(server.api_url(&format!("repos/{REPO}/releases")))
        .bearer_auth(TOKEN)
        .json_body(
            &json!({"tag_name": tag, "name": tag, "draft": draft, "target_commitish": "main"}),
        )
        .send()
        .unwrap()
}

fn create(server: &GitHubServer, tag: &str, draft: bool) -> Value {
    let res = create_request(server, tag, draft);
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
    let (releases, pages) = list_all(&server, &format!("repos/{REPO}/releases?per_page=2&page=1"));
    let tags: Vec<&str> = releases.iter().map(|r| text(r, "tag_name")).collect();
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

    // Without Authorization the redirect host serves the bytes and saw none.
    let (location, bytes) = follow_to_objects(&server, &client().get(url).send().unwrap());
    assert_ne!(server.objects_port, server.api_port);
    assert_eq!(bytes, b"firmware bytes");
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

    // The requests are recorded, whether they were authorised and with the token,
    // never the token.
    let seen: Vec<(bool, bool)> = server
        .requests()
        .iter()
        .map(|r| (r.authorization, r.authorization_matches))
        .collect();
    assert_eq!(seen, [(true, true), (false, false), (true, false)]);
    assert!(!format!("{:?}", server.requests()).contains(TOKEN));
    // The token as an Authorization value is not "seen"; any other value is.
    assert!(server.saw_text(&format!("GET /repos/{REPO}/releases HTTP/1.1")));
    assert!(server.saw_text("ghp_wrong"));
    assert!(!server.saw_text(TOKEN));

    // The token anywhere else, in a URL or in another header, is seen.
    let in_query = |server: &GitHubServer| {
        client().get(server.api_url(&format!("repos/{REPO}/releases?access_token={TOKEN}")))
    };
    let in_header = |server: &GitHubServer| {
        client()
            .get(server.api_url(&format!("repos/{REPO}/releases")))
            .header("X-Debug", format!("Bearer {TOKEN}"))
    };
    for leak in [
        &in_query as &dyn Fn(&GitHubServer) -> RequestBuilder,
        &in_header,
    ] {
        let server = GitHubServer::with_token(TOKEN);
        leak(&server).bearer_auth(TOKEN).send().unwrap();
        assert!(server.saw_text(TOKEN));
    }
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

#[test]
fn github_server_asset_api_answers_json_or_redirects_octet_stream_to_the_objects_host() {
    let (server, asset) = with_one_asset("v1.0.0", false, "fw.bin", b"firmware bytes");
    let path = format!("repos/{REPO}/releases/assets/{}", asset["id"]);
    assert_eq!(text(&asset, "url"), server.api_url(&path));
    let res = get(&server, &path);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.read_json::<Value>().unwrap(), asset);

    let (location, bytes) = follow_to_objects(&server, &get_raw(&asset));
    assert!(
        location.contains(&format!("/objects/{}?", asset["id"])),
        "{location}"
    );
    assert_eq!(bytes, b"firmware bytes");
    assert!(!server.redirect_host_saw_authorization());

    // The asset API needs the token, and knows only this repository's assets.
    let anonymous = client().get(server.api_url(&path)).send().unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let other = path.replace("acme/firmware", "acme/other");
    assert_eq!(get(&server, &other).status(), StatusCode::NOT_FOUND);

    // `releases/assets/{id}` is the asset's route, with its Accept header recorded.
    let seen: Vec<(Option<Route>, Option<String>)> = server
        .requests()
        .iter()
        .filter(|r| r.path.contains("/releases/assets/"))
        .map(|r| (r.route(), r.accept.clone()))
        .collect();
    let accept = |a: &str| (Some(Route::GetAsset), Some(a.to_owned()));
    assert_eq!(
        seen[..2],
        [
            accept("application/vnd.github+json"),
            accept("application/octet-stream")
        ]
    );
}

#[test]
fn github_server_private_repository_download_link_is_not_found_but_the_asset_api_serves() {
    let (server, asset) = with_one_asset("v1.0.0", false, "fw.bin", b"private bytes");
    let link = text(&asset, "browser_download_url");
    server.set_private(true);
    assert_eq!(
        client().get(link).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let (_, bytes) = follow_to_objects(&server, &get_raw(&asset));
    assert_eq!(bytes, b"private bytes");
    server.set_private(false);
    let (_, bytes) = follow_to_objects(&server, &client().get(link).send().unwrap());
    assert_eq!(bytes, b"private bytes");
}

#[test]
fn github_server_apply_then_serves_the_request_and_answers_the_fault() {
    let server = GitHubServer::with_token(TOKEN);
    let release = create(&server, "v1.0.0", true);
    let bytes = vec![9u8; 70_000];
    server.inject(Route::UploadAsset, [Fault::ApplyThen(502)]);
    let res = upload(&release, "fw.bin", bytes.clone());
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(res.read_json::<Value>().unwrap()["message"], "Server Error");
    let asset = server.releases()[0].assets[0].clone();
    assert_eq!(asset.state, AssetState::Uploaded);
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    assert_eq!(asset.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(server.asset_bytes(asset.id), bytes);
    // The retry finds the name taken: GitHub's `already_exists`.
    let retry = upload(&release, "fw.bin", bytes);
    assert_eq!(retry.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        retry.read_json::<Value>().unwrap()["errors"][0]["code"],
        "already_exists"
    );

    server.inject(Route::CreateRelease, [Fault::ApplyThen(500)]);
    let res = create_request(&server, "v2.0.0", true);
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let tags: Vec<String> = server.releases().into_iter().map(|r| r.tag_name).collect();
    assert_eq!(tags, ["v1.0.0", "v2.0.0"]);
    // The JSON body of an API request is recorded.
    let last = server.requests().pop().unwrap();
    assert_eq!(last.json.unwrap()["tag_name"], "v2.0.0");
}

#[test]
fn github_server_forbidden_and_rate_limit_faults_without_retry_after() {
    let server = GitHubServer::with_token(TOKEN);
    let path = format!("repos/{REPO}/releases");
    server.inject(
        Route::ListReleases,
        [
            Fault::PrimaryRateLimit { reset_in: 3600 },
            Fault::Forbidden,
            Fault::SecondaryWithoutRetryAfter,
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut remaining = Vec::new();
    let mut messages = Vec::new();
    for _ in 0..3 {
        let res = get(&server, &path);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(!res.headers().contains_key("retry-after"));
        let header = |name: &str| -> u64 { res.headers()[name].to_str().unwrap().parse().unwrap() };
        remaining.push(header("x-ratelimit-remaining"));
        if remaining.len() == 1 {
            let reset = header("x-ratelimit-reset");
            assert!(
                (now + 3500..now + 3700).contains(&reset),
                "{reset} vs {now}"
            );
        }
        messages.push(text(&res.read_json::<Value>().unwrap(), "message").to_owned());
    }
    assert_eq!(remaining[0], 0);
    assert!(remaining[1] > 0 && remaining[2] > 0, "{remaining:?}");
    assert_eq!(
        messages[..2],
        [PRIMARY_RATE_LIMIT_MESSAGE, FORBIDDEN_MESSAGE]
    );
    assert!(messages[2].contains("secondary rate limit"), "{messages:?}");
    assert_eq!(get(&server, &path).status(), StatusCode::OK);
}

#[test]
fn github_server_starting_state_assets_with_and_without_digest_starter_and_placeholders() {
    let server = GitHubServer::with_token(TOKEN);
    let id = server.add_release(REPO, "v1.0.0", false);
    let old = server.add_asset(id, "old.bin", b"old bytes", false);
    let new = server.add_asset(id, "new.bin", b"new bytes", true);
    let starter = server.add_starter_asset(id, "cut.bin");
    server.add_placeholder_assets(id, 997);
    assert_eq!(server.asset_bytes(old), b"old bytes");
    assert_eq!(server.asset_bytes(new), b"new bytes");

    let (assets, pages) = list_all(
        &server,
        &format!("repos/{REPO}/releases/{id}/assets?per_page=100"),
    );
    assert_eq!((assets.len(), pages), (1000, 10));
    let ids: Vec<u64> = assets[..3]
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [old, new, starter]);
    assert_eq!(assets[0]["digest"], Value::Null);
    assert_eq!(
        assets[1]["digest"],
        format!("sha256:{}", sha256_hex(b"new bytes"))
    );
    assert_eq!(
        (&assets[2]["state"], &assets[1]["state"]),
        (&json!("starter"), &json!("uploaded"))
    );
    // An asset without a digest is served like any other.
    let (_, bytes) = follow_to_objects(&server, &get_raw(&assets[0]));
    assert_eq!(bytes, b"old bytes");
    let release: Value = get(&server, &format!("repos/{REPO}/releases/{id}"))
        .read_json()
        .unwrap();
    assert_eq!(release["assets"].as_array().unwrap().len(), 1000);
    assert_eq!(release["immutable"], false);
}

#[test]
fn github_server_immutable_published_release_refuses_uploads_and_deletions() {
    let (server, asset) = with_one_asset("v1.0.0", false, "fw.bin", b"bytes");
    let id = server.releases()[0].id;
    server.set_immutable(id, true);
    let release: Value = get(&server, &format!("repos/{REPO}/releases/tags/v1.0.0"))
        .read_json()
        .unwrap();
    assert_eq!(release["immutable"], true);
    let refusals = [
        upload(&release, "other.bin", b"x".to_vec()),
        delete_request(&asset),
    ];
    let messages: Vec<String> = refusals
        .into_iter()
        .map(|res| {
            assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
            text(&res.read_json::<Value>().unwrap(), "message").to_owned()
        })
        .collect();
    assert_eq!(
        messages,
        [IMMUTABLE_UPLOAD_MESSAGE, IMMUTABLE_DELETE_MESSAGE]
    );
    assert_eq!(server.releases()[0].assets.len(), 1);

    // A draft takes assets whatever the flag: it holds once the release is published.
    let draft = create(&server, "v2.0.0", true);
    server.set_immutable(draft["id"].as_u64().unwrap(), true);
    assert_eq!(
        upload(&draft, "fw.bin", b"x".to_vec()).status(),
        StatusCode::CREATED
    );
}

/// The manifest file of the repository [`with_repo`] makes.
const MANIFEST: &str = "channels/canary/manifest.json";

/// `METHOD path` on the API host with the token and, when given, a JSON body; the
/// status and the JSON answer (`null` when there is none).
fn call(
    server: &GitHubServer,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client()
        .request(method, server.api_url(path))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json_body(body);
    }
    let res = request.send().unwrap();
    let status = res.status();
    (status, res.read_json().unwrap_or(Value::Null))
}

/// A server holding [`REPO`] whose `main` has one commit of a README and [`MANIFEST`];
/// returns the server and that commit.
fn with_repo() -> (GitHubServer, String) {
    let server = GitHubServer::with_token(TOKEN);
    let files: [(&str, &[u8]); 2] = [("README.md", b"# firmware\n"), (MANIFEST, b"{}\n")];
    let main = server.add_repo(REPO, "main", &files);
    (server, main)
}

/// `PUT contents/FILE` of `bytes` on `branch` with the blob `sha` (when given) and the
/// message `write FILE`.
fn put(
    server: &GitHubServer,
    file: &str,
    bytes: &[u8],
    branch: &str,
    sha: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({
        "message": format!("write {file}"),
        "content": STANDARD.encode(bytes),
        "branch": branch,
    });
    if let Some(sha) = sha {
        body["sha"] = sha.into();
    }
    call(
        server,
        "PUT",
        &format!("repos/{REPO}/contents/{file}"),
        Some(&body),
    )
}

/// The blob sha of `file` on `branch`, read through the contents API.
fn blob_of(server: &GitHubServer, file: &str, branch: &str) -> String {
    let (status, found) = call(
        server,
        "GET",
        &format!("repos/{REPO}/contents/{file}?ref={branch}"),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{found}");
    text(&found, "sha").to_owned()
}

/// A branch `name` made from `main` holding one more commit of `file`.
fn branch_with_commit(server: &GitHubServer, name: &str, file: &str) -> String {
    server.add_branch(REPO, name, "main");
    server.commit_file(REPO, name, file, name.as_bytes(), &format!("add {file}"))
}

/// `{"title", "head", "base": "main", "body", "draft"}` of a new pull request.
fn new_pull(head: &str, draft: bool) -> Value {
    json!({"title": format!("release {head}"), "head": head, "base": "main", "body": "checklist", "draft": draft})
}

#[test]
fn github_server_repository_and_branch_refs_whose_names_hold_slashes() {
    let (server, main) = with_repo();
    let (status, repo) = call(&server, "GET", &format!("repos/{REPO}"), None);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            &repo["default_branch"],
            &repo["full_name"],
            &repo["private"]
        ),
        (&json!("main"), &json!(REPO), &json!(false))
    );
    let branch = "otactl/canary-20260115-1614-9121078";
    let at = format!("repos/{REPO}/git/ref/heads/{branch}");
    assert_eq!(call(&server, "GET", &at, None).0, StatusCode::NOT_FOUND);

    let refs = format!("repos/{REPO}/git/refs");
    let create = json!({"ref": format!("refs/heads/{branch}"), "sha": main});
    let (status, made) = call(&server, "POST", &refs, Some(&create));
    assert_eq!(status, StatusCode::CREATED);
    let object = json!({"sha": main, "type": "commit"});
    let object_of =
        |found: &Value| json!({"sha": found["object"]["sha"], "type": found["object"]["type"]});
    assert_eq!(object_of(&made), object);
    // Read back with the slash as it is or percent-encoded.
    for path in [at.clone(), at.replace("otactl/", "otactl%2F")] {
        let (status, found) = call(&server, "GET", &path, None);
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(found["ref"], format!("refs/heads/{branch}"));
        assert_eq!(object_of(&found), object);
    }
    assert_eq!(
        server.branch_head(REPO, branch).as_deref(),
        Some(main.as_str())
    );

    // Again: it exists; an unknown sha: no such object; neither makes a branch.
    let (status, again) = call(&server, "POST", &refs, Some(&create));
    assert_eq!(
        (status, text(&again, "message")),
        (StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists")
    );
    let unknown = json!({"ref": "refs/heads/other", "sha": "0".repeat(40)});
    let (status, _) = call(&server, "POST", &refs, Some(&unknown));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(server.branch_head(REPO, "other"), None);
    assert_eq!(
        call(&server, "GET", "repos/acme/other", None).0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn github_server_contents_gives_the_git_blob_sha_and_base64_in_lines_of_60() {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(512).collect();
    let server = GitHubServer::with_token(TOKEN);
    server.add_repo(
        REPO,
        "trunk",
        &[("hello.txt", b"hello\n"), ("fw/blob.bin", &bytes)],
    );
    // Without `ref`, the default branch.
    let (status, hello) = call(
        &server,
        "GET",
        &format!("repos/{REPO}/contents/hello.txt"),
        None,
    );
    assert_eq!(status, StatusCode::OK);
    let fields = ["type", "encoding", "path", "content", "sha"].map(|k| text(&hello, k));
    // `printf 'hello\n' | git hash-object --stdin`
    let sha = "ce013625030ba8dba906f756967f9e9ca394464a";
    assert_eq!(fields, ["file", "base64", "hello.txt", "aGVsbG8K\n", sha]);
    let (_, blob) = call(
        &server,
        "GET",
        &format!("repos/{REPO}/contents/fw/blob.bin?ref=trunk"),
        None,
    );
    let content = text(&blob, "content");
    let lines: Vec<&str> = content.split_terminator('\n').collect();
    assert!(content.ends_with('\n'), "{content:?}");
    assert_eq!(lines.len(), 12, "{content:?}");
    assert!(lines[..11].iter().all(|l| l.len() == 60), "{content:?}");
    assert_eq!(STANDARD.decode(lines.concat()).unwrap(), bytes);
    assert_eq!(text(&blob, "sha").len(), 40);

    // A folder lists its entries; a missing file or ref is not found.
    let (status, listing) = call(&server, "GET", &format!("repos/{REPO}/contents/fw"), None);
    assert_eq!(
        (status, &listing[0]["path"]),
        (StatusCode::OK, &json!("fw/blob.bin"))
    );
    for missing in ["nope.txt", "hello.txt?ref=nope"] {
        let path = format!("repos/{REPO}/contents/{missing}");
        assert_eq!(
            call(&server, "GET", &path, None).0,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}

#[test]
fn github_server_contents_put_commits_one_file_on_its_branch_and_checks_the_blob_sha() {
    let (server, main) = with_repo();
    server.add_branch(REPO, "work", "main");
    let current = blob_of(&server, MANIFEST, "work");
    // Without the sha of the file there, or with another: refused, nothing committed.
    let (status, _) = put(&server, MANIFEST, b"new\n", "work", None);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let other = "1".repeat(40);
    let (status, stale) = put(&server, MANIFEST, b"new\n", "work", Some(&other));
    assert_eq!(
        (status, text(&stale, "message")),
        (
            StatusCode::CONFLICT,
            format!("{MANIFEST} does not match {other}").as_str()
        )
    );
    assert_eq!(
        server.branch_head(REPO, "work").as_deref(),
        Some(main.as_str())
    );

    // With it: one commit on that branch only, the answer naming the new blob.
    let (status, done) = put(&server, MANIFEST, b"new\n", "work", Some(&current));
    assert_eq!(status, StatusCode::OK, "{done}");
    let message = format!("write {MANIFEST}");
    assert_eq!(done["commit"]["message"], message.as_str());
    let commits = server.commits_on(REPO, "work");
    assert_eq!(commits.len(), 2);
    assert_eq!(
        commits[0],
        (text(&done["commit"], "sha").to_owned(), message)
    );
    assert_eq!(
        server.file_at(REPO, "work", MANIFEST).as_deref(),
        Some(&b"new\n"[..])
    );
    assert_eq!(
        server.file_at(REPO, "main", MANIFEST).as_deref(),
        Some(&b"{}\n"[..])
    );
    assert_eq!(
        server.commits_on(REPO, "main"),
        [(main, "Initial commit".to_owned())]
    );
    assert_eq!(
        done["content"]["sha"],
        blob_of(&server, MANIFEST, "work").as_str()
    );

    // A new file takes no sha (201); a sha for it is refused; so is an unknown branch.
    assert_eq!(
        put(&server, "a.txt", b"a", "work", None).0,
        StatusCode::CREATED
    );
    assert_eq!(
        put(&server, "b.txt", b"b", "work", Some(&current)).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        put(&server, "c.txt", b"c", "nope", None).0,
        StatusCode::NOT_FOUND
    );

    // A file changed behind the client's back: the sha it read is stale.
    let read = blob_of(&server, MANIFEST, "work");
    server.commit_file(REPO, "work", MANIFEST, b"pushed\n", "a push");
    assert_eq!(
        put(&server, MANIFEST, b"mine\n", "work", Some(&read)).0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        server.file_at(REPO, "work", MANIFEST).as_deref(),
        Some(&b"pushed\n"[..])
    );
}

#[test]
fn github_server_compare_lists_the_commits_beyond_the_merge_base_oldest_first() {
    let (server, main) = with_repo();
    let branch = "otactl/canary-x";
    let first = branch_with_commit(&server, branch, "a.txt");
    let second = server.commit_file(REPO, branch, "b.txt", b"b", "second");
    server.commit_file(REPO, "main", "c.txt", b"c", "on main");
    let compare = |spec: &str| {
        call(
            &server,
            "GET",
            &format!("repos/{REPO}/compare/{spec}"),
            None,
        )
    };

    let (status, diverged) = compare(&format!("main...{branch}"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            &diverged["status"],
            &diverged["ahead_by"],
            &diverged["behind_by"]
        ),
        (&json!("diverged"), &json!(2), &json!(1))
    );
    let commits: Vec<(&str, &str)> = diverged["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (text(c, "sha"), text(&c["commit"], "message")))
        .collect();
    assert_eq!(
        commits,
        [(first.as_str(), "add a.txt"), (second.as_str(), "second")]
    );
    assert_eq!(diverged["merge_base_commit"]["sha"], main.as_str());
    let files: Vec<(&str, &str)> = diverged["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (text(f, "filename"), text(f, "status")))
        .collect();
    assert_eq!(files, [("a.txt", "added"), ("b.txt", "added")]);

    let (_, same) = compare("main...main");
    assert_eq!(
        (&same["status"], &same["commits"]),
        (&json!("identical"), &json!([]))
    );
    assert_eq!(compare("main...nope").0, StatusCode::NOT_FOUND);
}

#[test]
fn github_server_pull_requests_are_made_found_by_owner_and_branch_and_updated_but_not_their_draft_flag()
 {
    let (server, _) = with_repo();
    let (one, two) = ("otactl/canary-1", "otactl/canary-2");
    branch_with_commit(&server, one, "one.txt");
    branch_with_commit(&server, two, "two.txt");
    server.add_branch(REPO, "empty", "main");
    let pulls = format!("repos/{REPO}/pulls");

    let (status, made) = call(&server, "POST", &pulls, Some(&new_pull(one, true)));
    assert_eq!(status, StatusCode::CREATED);
    let html_url = server.api_url(&format!("{REPO}/pull/1"));
    assert_eq!(
        (
            &made["number"],
            &made["state"],
            &made["draft"],
            &made["html_url"]
        ),
        (&json!(1), &json!("open"), &json!(true), &json!(html_url))
    );
    // The same head again, with or without its owner: GitHub's refusal.
    for head in [one.to_owned(), format!("acme:{one}")] {
        let (status, again) = call(&server, "POST", &pulls, Some(&new_pull(&head, false)));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let message = format!("A pull request already exists for acme:{one}.");
        assert_eq!(
            again["errors"],
            json!([{"resource": "PullRequest", "code": "custom", "message": message}])
        );
    }
    let (status, empty) = call(&server, "POST", &pulls, Some(&new_pull("empty", false)));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        empty["errors"][0]["message"],
        "No commits between main and empty"
    );
    assert_eq!(
        call(&server, "POST", &pulls, Some(&new_pull(two, false))).0,
        StatusCode::CREATED
    );

    // Found by OWNER:BRANCH; a bare branch filters nothing (GitHub ignores it); another
    // owner's branch finds none. Newest first.
    let numbers = |query: &str| -> Vec<u64> {
        let (status, found) = call(&server, "GET", &format!("{pulls}?{query}"), None);
        assert_eq!(status, StatusCode::OK, "{query}");
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(numbers(&format!("head=acme:{one}&state=open")), [1]);
    assert_eq!(numbers(&format!("head={one}")), [2, 1]);
    assert_eq!(numbers(&format!("head=someone:{one}")), Vec::<u64>::new());

    // Title, body and state change; the draft flag does not.
    let patch =
        json!({"title": "new title", "body": "new body", "draft": false, "state": "closed"});
    assert_eq!(
        call(&server, "PATCH", &format!("{pulls}/1"), Some(&patch)).0,
        StatusCode::OK
    );
    let expected = Pull {
        number: 1,
        head: one.to_owned(),
        base: "main".to_owned(),
        title: "new title".to_owned(),
        body: "new body".to_owned(),
        draft: true,
        state: "closed".to_owned(),
        html_url,
    };
    assert_eq!(server.pulls(REPO)[0], expected);
    assert_eq!(
        (numbers("state=open"), numbers("state=closed")),
        (vec![2], vec![1])
    );
    let (status, read) = call(&server, "GET", &format!("{pulls}/1"), None);
    assert_eq!(
        (status, &read["title"]),
        (StatusCode::OK, &json!("new title"))
    );
    assert_eq!(
        call(&server, "GET", &format!("{pulls}/9"), None).0,
        StatusCode::NOT_FOUND
    );

    // Pages keep the filters in their links.
    let (all, pages) = list_all(&server, &format!("{pulls}?state=all&per_page=1"));
    let listed: Vec<&Value> = all.iter().map(|p| &p["number"]).collect();
    assert_eq!((listed, pages), (vec![&json!(2), &json!(1)], 2));
}

#[test]
fn github_server_apply_then_applies_ref_contents_and_pull_writes_and_a_409_applies_nothing() {
    let (server, main) = with_repo();
    let branch = "otactl/canary-x";
    let manifest = format!("repos/{REPO}/contents/{MANIFEST}");
    let blob = blob_of(&server, MANIFEST, "main");
    let writes = [
        (
            Route::CreateRef,
            "POST",
            format!("repos/{REPO}/git/refs"),
            json!({"ref": format!("refs/heads/{branch}"), "sha": main}),
        ),
        (
            Route::PutContents,
            "PUT",
            manifest.clone(),
            json!({"message": "m", "content": STANDARD.encode("x"), "branch": branch, "sha": blob}),
        ),
        (
            Route::CreatePull,
            "POST",
            format!("repos/{REPO}/pulls"),
            new_pull(branch, false),
        ),
        (
            Route::UpdatePull,
            "PATCH",
            format!("repos/{REPO}/pulls/1"),
            json!({"title": "updated"}),
        ),
    ];
    for (route, method, path, body) in &writes {
        server.inject(*route, [Fault::ApplyThen(502)]);
        let (status, answer) = call(&server, method, path, Some(body));
        assert_eq!(
            (status, &answer["message"]),
            (StatusCode::BAD_GATEWAY, &json!("Server Error")),
            "{route:?}"
        );
    }
    let commits = server.commits_on(REPO, branch);
    assert_eq!((commits.len(), commits[0].1.as_str()), (2, "m"));
    assert_eq!(
        server.file_at(REPO, branch, MANIFEST).as_deref(),
        Some(&b"x"[..])
    );
    let pulls = server.pulls(REPO);
    assert_eq!((pulls.len(), pulls[0].title.as_str()), (1, "updated"));
    // The JSON bodies are recorded.
    let last = server.requests().pop().unwrap();
    assert_eq!(last.json, Some(json!({"title": "updated"})));

    // A status fault answers without applying.
    server.inject(Route::PutContents, [Fault::Status(409)]);
    let current = blob_of(&server, MANIFEST, branch);
    assert_eq!(
        put(&server, MANIFEST, b"y", branch, Some(&current)).0,
        StatusCode::CONFLICT
    );
    assert_eq!(server.commits_on(REPO, branch).len(), 2);
    assert_eq!(
        put(&server, MANIFEST, b"y", branch, Some(&current)).0,
        StatusCode::OK
    );
}
