//! Real browsers for tests: Debian's headless Chromium driven through chromedriver
//! (WebDriver) with `fantoccini`. Each [`Browser`] is its own Chromium with its own
//! profile, so two browsers are two voters. Nothing here skips: without Chromium or
//! chromedriver a test fails and says how to install them.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// Debian's Chromium; the `chromium` command is a wrapper script around it.
const CHROMIUM_CANDIDATES: [&str; 2] = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

/// Debian's `chromium-driver` package installs this.
const CHROMEDRIVER: &str = "chromedriver";

/// chromedriver answers `/status` within a second or two; a loaded CI box gets more.
const DRIVER_START: Duration = Duration::from_secs(20);

/// How long a page may take to show what a test waits for (a loaded 2-core box).
pub const PAGE_WAIT: Duration = Duration::from_secs(15);

/// The size of a 1080p projector, which the live page is designed for.
pub const PROJECTOR: (u32, u32) = (1920, 1080);

/// A phone's window, in CSS pixels (an iPhone 14's).
pub const PHONE: (u32, u32) = (390, 844);

/// Where screenshots go: `$TALLY_ARTIFACTS`, else `target/artifacts` (CI keeps it).
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("TALLY_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/artifacts"));
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    // Chromium refuses to finish a download into a path with `..` in it.
    std::fs::canonicalize(&dir).expect("the artifacts directory resolves")
}

/// A chromedriver process on a free port, killed when dropped.
#[derive(Debug)]
pub struct Chromedriver {
    url: String,
    child: Child,
}

impl Chromedriver {
    /// Starts chromedriver and waits until it answers. Panics (never skips) when
    /// chromedriver or Chromium is missing.
    pub async fn start() -> Chromedriver {
        assert!(
            chromium().is_some(),
            "Chromium is not installed: run scripts/test (it installs Debian's chromium and \
             chromium-driver) or `apt-get install chromium chromium-driver`"
        );
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {CHROMEDRIVER} ({error}): run scripts/test or \
                     `apt-get install chromium-driver`"
                )
            });
        let driver = Chromedriver {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + DRIVER_START;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    /// Stops chromedriver (the browsers it started go with it).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn chromium() -> Option<&'static str> {
    CHROMIUM_CANDIDATES
        .into_iter()
        .find(|path| Path::new(path).exists())
}

/// How a browser is set up.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// Whether pages may run JavaScript.
    pub javascript: bool,
    /// Whether the page sees `prefers-color-scheme: dark`.
    pub dark: bool,
    /// Window size in CSS pixels.
    pub window: (u32, u32),
    /// Where downloads are saved.
    pub downloads: Option<PathBuf>,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            javascript: true,
            dark: false,
            window: (1280, 900),
            downloads: None,
        }
    }
}

/// One headless Chromium (its own profile and cookies: one voter).
#[derive(Debug)]
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    base: String,
}

impl Browser {
    /// [`Browser::open`] in a `window`, light or `dark`, with or without `javascript`.
    pub async fn open_as(
        driver: &Chromedriver,
        base: &str,
        window: (u32, u32),
        dark: bool,
        javascript: bool,
    ) -> Browser {
        let options = BrowserOptions {
            window,
            dark,
            javascript,
            ..BrowserOptions::default()
        };
        Browser::open(driver, base, options).await
    }

    /// Opens a browser on `driver` whose relative addresses go to `base` (the edge).
    pub async fn open(driver: &Chromedriver, base: &str, options: BrowserOptions) -> Browser {
        let binary = chromium().expect("chromium checked at driver start");
        let (width, height) = options.window;
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
        ];
        if options.dark {
            args.push("--force-dark-mode".to_owned());
            args.push("--blink-settings=preferredColorScheme=0".to_owned());
        }
        let mut prefs = serde_json::Map::new();
        if !options.javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        if let Some(dir) = &options.downloads {
            prefs.insert("download.default_directory".into(), json!(dir));
            prefs.insert("download.prompt_for_download".into(), json!(false));
            // Safe Browsing would hold the file back to check it, and it has no network.
            prefs.insert("safebrowsing.enabled".into(), json!(false));
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": binary, "args": args, "prefs": prefs}),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|error| panic!("chromedriver could not start Chromium: {error}"));
        let browser = Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
        };
        if let Some(dir) = &options.downloads {
            // Headless Chromium saves downloads only when told so through DevTools.
            browser
                .devtools(
                    &driver.url,
                    "Browser.setDownloadBehavior",
                    json!({"behavior": "allow", "downloadPath": dir}),
                )
                .await;
        }
        browser
    }

    /// Runs `script` in every page this browser opens from now on, before the page's own
    /// scripts (DevTools' `Page.addScriptToEvaluateOnNewDocument`): e.g. to keep hold of
    /// the page's WebSockets so that a test can drop them as a bad network would.
    pub async fn before_every_page(&self, driver: &Chromedriver, script: &str) {
        self.devtools(
            &driver.url,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": script}),
        )
        .await;
    }

    /// Sends a DevTools command through chromedriver's `goog/cdp/execute` extension.
    async fn devtools(&self, driver: &str, cmd: &str, params: Value) {
        use http_body_util::{BodyExt, Full};
        let session = self
            .client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let request = http::Request::post(format!("{driver}/session/{session}/goog/cdp/execute"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(
                json!({"cmd": cmd, "params": params}).to_string(),
            )))
            .expect("devtools request");
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let response = client.request(request).await.expect("chromedriver answers");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert!(status.is_success(), "{cmd} failed: {status} {body:?}");
    }

    /// The absolute address of `path` on the edge.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens `path` (relative to the edge) or an absolute URL.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        self.client.goto(&url).await.expect("navigate");
    }

    /// The first element matching the CSS `selector`, waiting for it to appear.
    pub async fn find(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|error| panic!("no {selector:?} on the page: {error}"))
    }

    /// Whether an element matches `selector` now.
    pub async fn exists(&self, selector: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(selector))
            .await
            .expect("find elements")
            .is_empty()
    }

    /// Whether the element matching `selector` is displayed now (it must exist).
    pub async fn displayed(&self, selector: &str) -> bool {
        self.find(selector)
            .await
            .is_displayed()
            .await
            .expect("element display")
    }

    /// Waits until the element matching `selector` is displayed; panics naming `what`.
    pub async fn until_displayed(&self, selector: &str, what: &str) {
        self.until(PAGE_WAIT, what, || async {
            let displayed = self.exists(selector).await && self.displayed(selector).await;
            displayed.then_some(())
        })
        .await;
    }

    /// Clicks the element matching `selector`.
    pub async fn click(&self, selector: &str) {
        self.find(selector).await.click().await.expect("click");
    }

    /// Types `text` into the field matching `selector`.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let field = self.find(selector).await;
        field.clear().await.expect("clear field");
        field.send_keys(text).await.expect("type");
    }

    /// The visible text of the element matching `selector`.
    pub async fn text(&self, selector: &str) -> String {
        self.find(selector)
            .await
            .text()
            .await
            .expect("element text")
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed ({script}): {error}"))
    }

    /// The current address.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current url")
            .to_string()
    }

    /// Polls `probe` until it returns `Some`, for at most `within`; panics naming `what`.
    pub async fn until<T, F, Fut>(&self, within: Duration, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + within;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?}: {what}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Saves a PNG screenshot as `name` in the artifacts directory; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Ends the browser.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
