//! Greeting and prompts on the page: listen to a text before saving it (espeak-ng, as
//! the box renders it), listen to the greeting callers hear now, save a new greeting
//! text (a new configuration version), and upload recordings — a greeting and a
//! voicemail prompt per routing number, and the hold music — that replace the spoken
//! (or generated) ones.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::openapi::{obj, ok, op, op_body, with_params};
use super::pages::{esc, page};
use super::{ApiError, Session, Web};
use crate::call::Prompt;
use crate::media::upload::{MAX_UPLOAD_BYTES, RECORDINGS_DIR, hold_music_path, recording_path};
use crate::store::web::Role;

type ApiResult<T> = Result<T, ApiError>;

/// The routes of this file.
pub(super) fn routes() -> axum::Router<Arc<Web>> {
    use axum::routing::{get, post};
    let upload_limit = DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024);
    axum::Router::new()
        .route("/prompts", get(prompts_page))
        .route("/api/prompts/render", post(render))
        .route("/api/routing-numbers/{id}/greeting.wav", get(greeting_wav))
        .route("/api/routing-numbers/{id}/greeting", post(save_greeting))
        .route(
            "/api/routing-numbers/{id}/greeting/recording",
            post(upload_greeting)
                .delete(delete_greeting)
                .layer(upload_limit),
        )
        .route(
            "/api/routing-numbers/{id}/voicemail-prompt.wav",
            get(voicemail_prompt_wav),
        )
        .route(
            "/api/routing-numbers/{id}/voicemail-prompt/recording",
            post(upload_voicemail_prompt)
                .delete(delete_voicemail_prompt)
                .layer(upload_limit),
        )
        .route("/api/hold-music.wav", get(hold_wav))
        .route(
            "/api/hold-music",
            post(upload_hold).delete(delete_hold).layer(upload_limit),
        )
}

/// 16-bit 8 kHz mono WAV bytes.
fn wav_response(samples: &[i16]) -> ApiResult<Response> {
    let mut c = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: crate::dsp::SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut c, spec)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        for &s in samples {
            w.write_sample(s)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
        }
        w.finalize()
            .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    }
    let mut r = c.into_inner().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    Ok(r)
}

fn routing_id_known(web: &Web, id: &str) -> ApiResult<Arc<crate::config::Config>> {
    let cfg = web
        .current
        .read()
        .map(|c| c.0.clone())
        .map_err(|_| ApiError::internal(anyhow::anyhow!("configuration lock")))?;
    if cfg.routing_numbers.iter().any(|r| r.key == id) {
        return Ok(cfg);
    }
    let ids: Vec<&str> = cfg.routing_numbers.iter().map(|r| r.key.as_str()).collect();
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no routing number `{id}`: use one of {}", ids.join(", ")),
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct RenderRequest {
    text: String,
    language: Option<String>,
}

pub(super) async fn render(
    State(web): State<Arc<Web>>,
    Json(req): Json<RenderRequest>,
) -> ApiResult<Response> {
    if let Err(e) = crate::media::tts::check_prompt_text(&req.text) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("text: {e}"),
        ));
    }
    let voice = req.language.unwrap_or_else(|| "en".into());
    if voice.is_empty()
        || voice.len() > 32
        || !voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '+')
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("language: `{voice}` is not a voice name: write e.g. en, de or en-us"),
        ));
    }
    let Some(web2) = web.backend.as_ref().map(|_| web.clone()) else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is not running",
        ));
    };
    let samples = tokio::task::spawn_blocking(move || {
        let b = web2.backend.as_ref().expect("checked above");
        (b.render)(&voice, &req.text)
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("text: {e:#}")))?;
    wav_response(&samples)
}

/// What callers hear now for prompt `p` of routing number `id` (a recording or speech).
fn prompt_wav(web: &Web, id: &str, p: Prompt) -> ApiResult<Response> {
    routing_id_known(web, id)?;
    let lib = web.prompts.read().ok().and_then(|l| l.clone());
    match lib.as_ref().and_then(|l| l.get(id, p)) {
        Some(c) => wav_response(&c.samples),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            match p {
                Prompt::LeaveMessage => format!(
                    "routing number `{id}` has no voicemail prompt: its calls never end in voicemail (set [routing_number.voicemail] enabled = true)"
                ),
                _ => format!("routing number `{id}` has no rendered greeting yet"),
            },
        )),
    }
}

pub(super) async fn greeting_wav(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    prompt_wav(&web, &id, Prompt::Greeting)
}

pub(super) async fn voicemail_prompt_wav(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    prompt_wav(&web, &id, Prompt::LeaveMessage)
}

pub(super) async fn hold_wav(State(web): State<Arc<Web>>) -> ApiResult<Response> {
    let lib = web.prompts.read().ok().and_then(|p| p.clone());
    match lib.and_then(|l| l.hold_music()) {
        Some(s) => wav_response(&s),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no hold music uploaded: callers hear the generated melody",
        )),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct GreetingText {
    text: String,
}

/// The TOML text with routing number `index`'s greeting set (toml_edit: the rest of
/// the file stays as written).
fn with_greeting(text: &str, index: usize, greeting: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("the configuration in force does not parse: {e}"))?;
    let t = doc
        .get_mut("routing_number")
        .and_then(|r| r.as_array_of_tables_mut())
        .and_then(|a| a.get_mut(index))
        .ok_or("the routing number is not in the configuration text")?;
    t["greeting"] = toml_edit::value(greeting);
    Ok(doc.to_string())
}

pub(super) async fn save_greeting(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Json(req): Json<GreetingText>,
) -> ApiResult<Json<Value>> {
    let cfg = routing_id_known(&web, &id)?;
    let index = cfg
        .routing_numbers
        .iter()
        .position(|r| r.key == id)
        .unwrap_or(0);
    let text = super::api::config_text_in_force(&web).await?;
    let new = with_greeting(&text, index, &req.text)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, e))?;
    let version = super::api::apply(&web, &s, new, format!("greeting of {id}")).await?;
    Ok(Json(json!({ "version": version })))
}

#[derive(Debug, Deserialize)]
pub(super) struct UploadQuery {
    name: Option<String>,
}

async fn store(
    web: &Arc<Web>,
    body: Bytes,
    name: Option<String>,
    path: std::path::PathBuf,
) -> ApiResult<f64> {
    tokio::task::spawn_blocking(move || {
        crate::media::upload::store_upload(&body, name.as_deref(), &path)
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?
    .map_err(|e| {
        let _ = web;
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("file: {e:#}"))
    })
}

/// What the audit log and the page call a recordable prompt: (audit action, words).
fn recording_names(p: Prompt) -> (&'static str, &'static str) {
    match p {
        Prompt::LeaveMessage => ("recording.voicemail_prompt", "voicemail prompt"),
        _ => ("recording.greeting", "greeting"),
    }
}

fn prompt_recording_path(web: &Web, id: &str, p: Prompt) -> ApiResult<std::path::PathBuf> {
    recording_path(&web.options.data_dir.join(RECORDINGS_DIR), id, p)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("prompt {p:?} cannot be a recording")))
}

/// Stores an uploaded recording for prompt `p` of routing number `id` and renders the
/// prompts again (new calls hear it).
async fn upload_prompt_recording(
    web: &Arc<Web>,
    s: &Session,
    id: &str,
    p: Prompt,
    q: UploadQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    routing_id_known(web, id)?;
    let path = prompt_recording_path(web, id, p)?;
    let seconds = store(web, body, q.name.clone(), path).await?;
    let (action, what) = recording_names(p);
    super::api::rerender(
        web,
        s,
        action,
        format!(
            "{what} of {id}: uploaded {} ({seconds:.1} s)",
            q.name.as_deref().unwrap_or("a recording")
        ),
    )
    .await?;
    Ok(Json(json!({ "seconds": seconds })))
}

/// Removes the uploaded recording for prompt `p` of routing number `id` (its text is
/// spoken again).
async fn delete_prompt_recording(
    web: &Arc<Web>,
    s: &Session,
    id: &str,
    p: Prompt,
) -> ApiResult<Response> {
    routing_id_known(web, id)?;
    let path = prompt_recording_path(web, id, p)?;
    let (action, what) = recording_names(p);
    remove(
        web,
        s,
        path,
        action,
        format!("{what} of {id}: recording removed, the text is spoken again"),
    )
    .await
}

pub(super) async fn upload_greeting(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    upload_prompt_recording(&web, &s, &id, Prompt::Greeting, q, body).await
}

pub(super) async fn delete_greeting(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    delete_prompt_recording(&web, &s, &id, Prompt::Greeting).await
}

pub(super) async fn upload_voicemail_prompt(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    upload_prompt_recording(&web, &s, &id, Prompt::LeaveMessage, q, body).await
}

pub(super) async fn delete_voicemail_prompt(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    delete_prompt_recording(&web, &s, &id, Prompt::LeaveMessage).await
}

pub(super) async fn upload_hold(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
    Query(q): Query<UploadQuery>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let path = hold_music_path(&web.options.data_dir.join(RECORDINGS_DIR));
    let seconds = store(&web, body, q.name.clone(), path).await?;
    super::api::rerender(
        &web,
        &s,
        "recording.hold_music",
        format!(
            "hold music: uploaded {} ({seconds:.1} s)",
            q.name.as_deref().unwrap_or("a recording")
        ),
    )
    .await?;
    Ok(Json(json!({ "seconds": seconds })))
}

pub(super) async fn delete_hold(
    State(web): State<Arc<Web>>,
    Extension(s): Extension<Session>,
) -> ApiResult<Response> {
    let path = hold_music_path(&web.options.data_dir.join(RECORDINGS_DIR));
    remove(
        &web,
        &s,
        path,
        "recording.hold_music",
        "hold music: recording removed, the generated melody plays again".into(),
    )
    .await
}

async fn remove(
    web: &Arc<Web>,
    s: &Session,
    path: std::path::PathBuf,
    action: &str,
    detail: String,
) -> ApiResult<Response> {
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "there is no uploaded recording to remove",
            ));
        }
        Err(e) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "{}: {e}",
                path.display()
            )));
        }
    }
    super::api::rerender(web, s, action, detail).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The OpenAPI paths of this file.
pub(super) fn openapi_paths() -> Value {
    let s = |t: &str| json!({ "type": t });
    let wav = json!({ "200": { "description": "8 kHz mono WAV", "content": { "audio/wav": { "schema": { "type": "string", "format": "binary" } } } } });
    let id = json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "routing number id" });
    let name = json!({ "name": "name", "in": "query", "schema": { "type": "string" }, "description": "the file's name (its extension helps to tell the format)" });
    let upload = |summary: &str, params: Value| {
        let mut o = with_params(
            op(
                summary,
                json!({ "200": ok(obj(json!({ "seconds": s("number") }), &["seconds"])) }),
            ),
            params,
        );
        o["requestBody"] = json!({ "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } });
        o
    };
    let removed = json!({ "204": { "description": "removed" } });
    json!({
        "/api/prompts/render": { "post": op_body("Speak a text as the box would (the listen button)",
            obj(json!({ "text": s("string"), "language": s("string") }), &["text"]), wav.clone()) },
        "/api/routing-numbers/{id}/greeting.wav": { "get": with_params(op("The greeting callers hear now (recording or speech, with the menu)", wav.clone()), json!([id.clone()])) },
        "/api/routing-numbers/{id}/greeting": { "post": with_params(op_body("Set the greeting text (saved as a new configuration version)",
            obj(json!({ "text": s("string") }), &["text"]),
            json!({ "200": ok(obj(json!({ "version": s("integer") }), &["version"])) })), json!([id.clone()])) },
        "/api/routing-numbers/{id}/greeting/recording": {
            "post": upload("Upload a recorded greeting (WAV, MP3, Ogg, FLAC; at most 16 MiB and 600 s)", json!([id.clone(), name.clone()])),
            "delete": with_params(op("Remove the recorded greeting (the text is spoken again)", removed.clone()), json!([id.clone()]))
        },
        "/api/routing-numbers/{id}/voicemail-prompt.wav": { "get": with_params(op("The voicemail prompt callers hear now (recording or speech; 404 if the routing number never uses voicemail)", wav.clone()), json!([id.clone()])) },
        "/api/routing-numbers/{id}/voicemail-prompt/recording": {
            "post": upload("Upload a recorded voicemail prompt (\"please leave a message after the tone\"; WAV, MP3, Ogg, FLAC; at most 16 MiB and 600 s)", json!([id.clone(), name.clone()])),
            "delete": with_params(op("Remove the recorded voicemail prompt (the text is spoken again)", removed.clone()), json!([id]))
        },
        "/api/hold-music.wav": { "get": op("The uploaded hold music", wav) },
        "/api/hold-music": {
            "post": upload("Upload hold music (WAV, MP3, Ogg, FLAC; at most 16 MiB and 600 s)", json!([name])),
            "delete": op("Remove the uploaded hold music (the generated melody plays again)", removed)
        }
    })
}

/// The upload (and remove) control of a routing number's recordable prompt: `slug`
/// names the page's elements, `api` the path under `/api/routing-numbers/{id}/`.
fn upload_control(id: &str, slug: &str, api: &str, label: &str, recorded: bool) -> String {
    let remove = if recorded {
        format!(
            r#" <button type="button" class="light" data-delete="/api/routing-numbers/{id}/{api}/recording" data-out="{slug}-result-{id}">Remove the recording</button>"#
        )
    } else {
        String::new()
    };
    format!(
        r#"<label for="{slug}-file-{id}">{label} (WAV, MP3, Ogg, FLAC)</label><input type="file" id="{slug}-file-{id}" accept="audio/*"> <button type="button" data-upload="/api/routing-numbers/{id}/{api}/recording" data-file="{slug}-file-{id}" data-out="{slug}-result-{id}" id="{slug}-upload-{id}">Upload</button>{remove}<p class="error" id="{slug}-result-{id}"></p>"#
    )
}

async fn prompts_page(State(web): State<Arc<Web>>, Extension(s): Extension<Session>) -> Response {
    let admin = s.role == Role::Admin;
    let cfg = web.current.read().map(|c| c.0.clone()).ok();
    let rec = web.options.data_dir.join(RECORDINGS_DIR);
    let lib = web.prompts.read().ok().and_then(|l| l.clone());
    let mut body = String::new();
    for rn in cfg.iter().flat_map(|c| c.routing_numbers.iter()) {
        let id = esc(&rn.key);
        let lang = esc(rn.language.get_ref());
        let recorded = |p| recording_path(&rec, &rn.key, p).is_some_and(|f| f.exists());
        let greeting_recorded = recorded(Prompt::Greeting);
        let vm_recorded = recorded(Prompt::LeaveMessage);
        let upload = if admin {
            upload_control(
                &id,
                "greeting",
                "greeting",
                "Or upload a recording",
                greeting_recorded,
            )
        } else {
            String::new()
        };
        let vm_upload = if admin {
            upload_control(
                &id,
                "voicemail",
                "voicemail-prompt",
                "Upload a recording instead of the spoken prompt",
                vm_recorded,
            )
        } else {
            String::new()
        };
        let vm_in_use = lib
            .as_ref()
            .is_some_and(|l| l.get(&rn.key, Prompt::LeaveMessage).is_some());
        let vm_state = if vm_in_use {
            format!(
                r#"Callers who leave a message hear{}: <audio controls preload="none" src="/api/routing-numbers/{id}/voicemail-prompt.wav" data-voicemail-prompt="{id}"></audio>"#,
                if vm_recorded { " (a recording)" } else { "" }
            )
        } else if vm_recorded {
            "A recording is uploaded; this routing number's calls do not end in voicemail now."
                .into()
        } else {
            "This routing number's calls do not end in voicemail now.".into()
        };
        body.push_str(&format!(
            r#"<section data-routing="{id}"><h2>{name} <span class="muted">({id}, voice {lang})</span></h2>
<p>Callers hear now{rec_note}: <audio controls preload="none" src="/api/routing-numbers/{id}/greeting.wav" data-greeting="{id}"></audio></p>
<form data-api="/api/routing-numbers/{id}/greeting" data-next="/prompts?saved={id}" id="greeting-form-{id}"><label for="greeting-text-{id}">Greeting text</label><textarea id="greeting-text-{id}" name="text" class="short"{ro}>{text}</textarea><div class="field-error" data-error-for="text"></div>
<button type="button" class="light" data-listen="greeting-text-{id}" data-language="{lang}" id="listen-{id}">Listen</button> <audio id="listen-audio-greeting-text-{id}" controls hidden></audio>{save}<p class="form-error error"></p></form>
{upload}<h3>Voicemail prompt</h3><p id="voicemail-state-{id}">{vm_state}</p>{vm_upload}</section>"#,
            name = esc(&rn.name),
            rec_note = if greeting_recorded { " (a recording, then the menu)" } else { "" },
            text = esc(&rn.greeting),
            ro = if admin { "" } else { " readonly" },
            save = if admin { r#" <button type="submit" id="greeting-save-{id}">Save greeting</button>"#.replace("{id}", &id) } else { String::new() },
        ));
    }
    let has_hold = web
        .prompts
        .read()
        .ok()
        .and_then(|p| p.as_ref().and_then(|l| l.hold_music()))
        .is_some();
    let hold_upload = if admin {
        format!(
            r#"<label for="hold-file">Upload hold music (WAV, MP3, Ogg, FLAC; at most 16 MiB and 10 minutes)</label><input type="file" id="hold-file" accept="audio/*"> <button type="button" data-upload="/api/hold-music" data-file="hold-file" data-out="hold-result" id="hold-upload">Upload</button>{}<p class="error" id="hold-result"></p>"#,
            if has_hold {
                r#" <button type="button" class="light" data-delete="/api/hold-music" data-out="hold-result">Remove</button>"#
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    body.push_str(&format!(
        r#"<section id="hold"><h2>Hold music</h2><p id="hold-state">{}</p>{hold_upload}</section>"#,
        if has_hold {
            r#"An uploaded recording: <audio controls preload="none" src="/api/hold-music.wav" id="hold-audio"></audio>"#
        } else {
            "The generated melody (no recording uploaded)."
        }
    ));
    page("Greeting and prompts", Some(&s), "/prompts", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_greeting_of_the_right_routing_number_is_set() {
        let text = "# mine\n[[routing_number]]\nname = \"A\"\ngreeting = \"a\"\n\n[[routing_number]]\nname = \"B\"\ngreeting = \"b\"\n";
        let t = super::with_greeting(text, 1, "Hello \"there\"").unwrap();
        assert!(t.starts_with("# mine\n"));
        assert!(t.contains("greeting = \"a\""));
        assert!(
            t.contains(r#"greeting = 'Hello "there"'"#)
                || t.contains(r#"greeting = "Hello \"there\"""#),
            "{t}"
        );
    }
}
