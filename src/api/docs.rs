//! Swagger UI and ReDoc, served with their assets from the binary: the pages work offline and
//! no request leaves the service's origin. The vendored files live under `assets/` (see its
//! README for versions and how to update them).

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::openapi::{SCHEMA_PATH, TITLE};

pub const SWAGGER_UI_VERSION: &str = "5.35.0";
pub const REDOC_VERSION: &str = "2.5.4";

pub const DOCS_PATH: &str = "/api/docs/";
pub const REDOC_PATH: &str = "/api/redoc/";
const ASSETS_PREFIX: &str = "/api/assets/";

/// A file served under `/api/assets/`, in a directory named after its package version so that
/// it can be cached forever.
pub struct Asset {
    pub path: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! vendored {
    ($dir:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/",
            $dir,
            "/",
            $file
        ))
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const PNG: &str = "image/png";
const TEXT: &str = "text/plain; charset=utf-8";

pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let swagger = |file: &str, content_type, bytes| Asset {
        path: format!("{ASSETS_PREFIX}swagger-ui-{SWAGGER_UI_VERSION}/{file}"),
        content_type,
        bytes,
    };
    let redoc = |file: &str, content_type, bytes| Asset {
        path: format!("{ASSETS_PREFIX}redoc-{REDOC_VERSION}/{file}"),
        content_type,
        bytes,
    };
    vec![
        swagger(
            "swagger-ui.css",
            CSS,
            vendored!("swagger-ui", "swagger-ui.css"),
        ),
        swagger(
            "swagger-ui-bundle.js",
            JS,
            vendored!("swagger-ui", "swagger-ui-bundle.js"),
        ),
        swagger(
            "swagger-ui-standalone-preset.js",
            JS,
            vendored!("swagger-ui", "swagger-ui-standalone-preset.js"),
        ),
        swagger(
            "favicon-32x32.png",
            PNG,
            vendored!("swagger-ui", "favicon-32x32.png"),
        ),
        swagger(
            "favicon-16x16.png",
            PNG,
            vendored!("swagger-ui", "favicon-16x16.png"),
        ),
        swagger("LICENSE", TEXT, vendored!("swagger-ui", "LICENSE")),
        swagger("NOTICE", TEXT, vendored!("swagger-ui", "NOTICE")),
        swagger(
            "swagger-ui-bundle.js.LICENSE.txt",
            TEXT,
            vendored!("swagger-ui", "swagger-ui-bundle.js.LICENSE.txt"),
        ),
        swagger(
            "swagger-ui-standalone-preset.js.LICENSE.txt",
            TEXT,
            vendored!("swagger-ui", "swagger-ui-standalone-preset.js.LICENSE.txt"),
        ),
        redoc(
            "redoc.standalone.js",
            JS,
            vendored!("redoc", "redoc.standalone.js"),
        ),
        redoc("LICENSE", TEXT, vendored!("redoc", "LICENSE")),
        redoc(
            "redoc.standalone.js.LICENSE.txt",
            TEXT,
            vendored!("redoc", "redoc.standalone.js.LICENSE.txt"),
        ),
    ]
});

pub fn assets() -> impl Iterator<Item = &'static Asset> {
    ASSETS.iter()
}

pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn asset_path(suffix: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.path.ends_with(suffix))
        .map(|a| a.path.as_str())
        .unwrap_or_else(|| panic!("no vendored asset {suffix}"))
}

/// A page and the `Content-Security-Policy` that lets it load only from this origin: ReDoc
/// always renders a logo from its vendor's CDN, which the policy blocks along with anything
/// else a bundle might try to fetch.
pub struct Page {
    pub html: String,
    pub csp: String,
}

fn page(title: &str, head: &str, body: &str, init: &str) -> Page {
    let hash = STANDARD.encode(Sha256::digest(init.as_bytes()));
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n{head}</head>\n<body>\n{body}<script>{init}</script>\n\
         </body>\n</html>\n"
    );
    let csp = format!(
        "default-src 'none'; script-src 'self' 'sha256-{hash}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
         worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    Page { html, csp }
}

/// drf-spectacular's Swagger UI page, with the operationIds shown, the online validator off
/// and the bearer scheme's *Authorize* button for pasting a key.
pub static SWAGGER_PAGE: LazyLock<Page> = LazyLock::new(|| {
    let head = format!(
        "<link rel=\"stylesheet\" href=\"{css}\">\n\
         <link rel=\"icon\" type=\"image/png\" sizes=\"32x32\" href=\"{icon32}\">\n\
         <link rel=\"icon\" type=\"image/png\" sizes=\"16x16\" href=\"{icon16}\">\n\
         <style>html{{box-sizing:border-box;overflow-y:scroll}}\
         *,*:before,*:after{{box-sizing:inherit}}body{{margin:0;background:#fafafa}}</style>\n",
        css = asset_path("/swagger-ui.css"),
        icon32 = asset_path("/favicon-32x32.png"),
        icon16 = asset_path("/favicon-16x16.png"),
    );
    let body = format!(
        "<div id=\"swagger-ui\"></div>\n<script src=\"{bundle}\"></script>\n\
         <script src=\"{preset}\"></script>\n",
        bundle = asset_path("/swagger-ui-bundle.js"),
        preset = asset_path("/swagger-ui-standalone-preset.js"),
    );
    let init = format!(
        "window.ui = SwaggerUIBundle({{url: \"{SCHEMA_PATH}\", dom_id: \"#swagger-ui\", \
         presets: [SwaggerUIBundle.presets.apis], plugins: [SwaggerUIBundle.plugins.DownloadUrl], \
         layout: \"BaseLayout\", deepLinking: true, displayOperationId: true, validatorUrl: null}});"
    );
    page(&format!("{TITLE} · Swagger UI"), &head, &body, &init)
});

/// drf-spectacular's ReDoc page without its Google Fonts: system fonts instead.
pub static REDOC_PAGE: LazyLock<Page> = LazyLock::new(|| {
    // An empty icon spares the browser a request for `/favicon.ico`, which does not exist.
    let head = "<link rel=\"icon\" href=\"data:,\">\n<style>body{margin:0;padding:0}</style>\n";
    let body = format!(
        "<div id=\"redoc\"></div>\n<script src=\"{}\"></script>\n",
        asset_path("/redoc.standalone.js")
    );
    let sans = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
    let mono = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace";
    let init = format!(
        "Redoc.init(\"{SCHEMA_PATH}\", {{theme: {{typography: {{fontFamily: \"{sans}\", \
         headings: {{fontFamily: \"{sans}\"}}, code: {{fontFamily: \"{mono}\"}}}}}}}}, \
         document.getElementById(\"redoc\"));"
    );
    page(&format!("{TITLE} · ReDoc"), head, &body, &init)
});

#[cfg(test)]
mod tests {
    use super::*;

    fn text(asset: &str) -> &'static str {
        std::str::from_utf8(asset_bytes(asset)).unwrap()
    }

    fn asset_bytes(suffix: &str) -> &'static [u8] {
        asset(asset_path(suffix)).unwrap().bytes
    }

    /// The version in each asset path is the vendored file's own, so caching by path is safe.
    #[test]
    fn versions_match_the_vendored_files() {
        assert!(
            text("/swagger-ui-bundle.js")
                .contains(&format!("PACKAGE_VERSION:\"{SWAGGER_UI_VERSION}\""))
        );
        assert!(
            text("/redoc.standalone.js")
                .contains(&format!(" ReDoc Version: \",\"{REDOC_VERSION}\""))
        );
    }

    #[test]
    fn the_policy_admits_exactly_the_inline_script() {
        for page in [&*SWAGGER_PAGE, &*REDOC_PAGE] {
            let start = page.html.find("<script>").unwrap() + "<script>".len();
            let end = page.html[start..].find("</script>").unwrap() + start;
            let hash = STANDARD.encode(Sha256::digest(&page.html.as_bytes()[start..end]));
            assert!(page.csp.contains(&format!("'sha256-{hash}'")));
            assert_eq!(page.html.matches("<script>").count(), 1);
        }
    }
}
