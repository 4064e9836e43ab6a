//! A scripted browser for the action pages, for the demo and the tests: it keeps cookies, follows
//! redirects when asked, and sends riskrelay's own URLs to the app in process and every other URL
//! (the simulated tenant's sign-in) over HTTP. The real-browser test is
//! `tools/browser/actions_flow.py`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use riskrelay::server::HttpApp;

/// One answer, as a browser sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// Absolute, or a path on riskrelay.
    pub location: Option<String>,
    pub body: String,
}

pub struct Browser {
    app: Arc<dyn HttpApp>,
    /// riskrelay's public root: URLs under it go to `app`.
    public: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(app: Arc<dyn HttpApp>, public: &str) -> anyhow::Result<Self> {
        Ok(Self {
            app,
            public: public.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            cookies: BTreeMap::new(),
        })
    }

    /// Another browser on the same app, without cookies (a link scanner, another analyst).
    pub fn fresh(&self) -> Self {
        Self {
            app: self.app.clone(),
            public: self.public.clone(),
            http: self.http.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &http::HeaderMap) {
        for c in headers.get_all(http::header::SET_COOKIE) {
            let first = c.to_str().ok().and_then(|c| c.split(';').next());
            if let Some((k, v)) = first.and_then(|kv| kv.split_once('=')) {
                self.cookies.insert(k.trim().into(), v.trim().into());
            }
        }
    }

    /// One request; `form` is sent url-encoded.
    pub async fn request(
        &mut self,
        method: &str,
        url: &str,
        form: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.public)
        } else {
            url.to_string()
        };
        if let Some(path) = url.strip_prefix(&self.public) {
            let mut req = http::Request::builder()
                .method(method)
                .uri(path)
                .header(http::header::COOKIE, self.cookie_header());
            if form.is_some() {
                req = req.header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                );
            }
            let res = self
                .app
                .handle(req.body(Bytes::from(form.unwrap_or_default().to_string()))?)
                .await;
            self.keep(res.headers());
            return Ok(Answer {
                status: res.status().as_u16(),
                location: res
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_string),
                headers: res.headers().clone(),
                body: String::from_utf8_lossy(res.body()).into_owned(),
            });
        }
        let res = self
            .http
            .request(method.parse()?, &url)
            .header(http::header::COOKIE, self.cookie_header())
            .send()
            .await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        self.keep(&headers);
        let base = url::Url::parse(&url)?;
        let location = headers
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| base.join(l).ok())
            .map(|u| u.to_string());
        Ok(Answer {
            status,
            headers,
            location,
            body: res.text().await?,
        })
    }

    pub async fn get(&mut self, url: &str) -> anyhow::Result<Answer> {
        self.request("GET", url, None).await
    }

    /// Follows redirects from `answer`; returns the last answer and every URL visited.
    pub async fn follow(&mut self, mut answer: Answer) -> anyhow::Result<(Answer, Vec<String>)> {
        let mut visited = Vec::new();
        while let (300..=399, Some(to)) = (answer.status, answer.location.clone()) {
            anyhow::ensure!(visited.len() < 10, "a redirect loop: {visited:?}");
            visited.push(to.clone());
            answer = self.get(&to).await?;
        }
        Ok((answer, visited))
    }

    /// Opens an action link, signs in on the simulated tenant's page as its analyst `n` (0: the
    /// Security Operator, 1: no role), and returns the page the sign-in ends on with every URL
    /// visited after the account picker.
    pub async fn sign_in(&mut self, link: &str, n: usize) -> anyhow::Result<(Answer, Vec<String>)> {
        let token = link.rsplit('/').next().unwrap_or_default();
        self.sign_in_at(&format!("/actions/signin/{token}"), n)
            .await
    }

    /// Opens `start` (a page that sends the browser to sign in), picks the simulated analyst
    /// `n` and follows the answer to the page it ends on.
    pub async fn sign_in_at(
        &mut self,
        start: &str,
        n: usize,
    ) -> anyhow::Result<(Answer, Vec<String>)> {
        let start = self.get(start).await?;
        let (picker, visited) = self.follow(start).await?;
        anyhow::ensure!(
            picker.body.contains("Pick an account"),
            "no sign-in page: {}",
            picker.status
        );
        let origin = url::Url::parse(visited.last().map_or("", String::as_str))?;
        let marker = format!("id=\"analyst-{n}\" href=\"");
        let at = picker
            .body
            .find(&marker)
            .ok_or_else(|| anyhow::anyhow!("no analyst {n} on the sign-in page"))?
            + marker.len();
        let end = picker.body[at..]
            .find('"')
            .ok_or_else(|| anyhow::anyhow!("a broken sign-in page"))?;
        let href = picker.body[at..at + end].replace("&amp;", "&");
        let chosen = self.get(origin.join(&href)?.as_str()).await?;
        self.follow(chosen).await
    }

    /// Presses the confirm page's button (its form, with the CSRF token it carries) and follows
    /// the answer to the page it ends on.
    pub async fn confirm(&mut self, link: &str, page: &str) -> anyhow::Result<Answer> {
        let token = link.rsplit('/').next().unwrap_or_default();
        let csrf = csrf(page).ok_or_else(|| anyhow::anyhow!("no confirm form on the page"))?;
        let posted = self
            .request(
                "POST",
                &format!("/actions/{token}"),
                Some(&format!("csrf={csrf}")),
            )
            .await?;
        Ok(self.follow(posted).await?.0)
    }
}

/// The hidden CSRF field of a confirm page.
pub fn csrf(page: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let at = page.find(marker)? + marker.len();
    Some(page[at..at + page[at..].find('"')?].to_string())
}
