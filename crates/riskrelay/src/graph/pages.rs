//! Paged reads: `@odata.nextLink` followed one page at a time.

use serde::de::DeserializeOwned;
use url::Url;

use super::{Feature, GraphClient, GraphError, MAX_PAGES};

/// A list read that follows `@odata.nextLink` one page at a time, so a caller can hand each page
/// on before reading the next. Every item that parses is returned; an item that does not (a
/// missing id, say) is skipped with a warning rather than failing the whole read: one odd record
/// must not stop every later alert.
pub struct Pages<T> {
    pub(super) graph: GraphClient,
    pub(super) feature: Feature,
    pub(super) next: Option<Url>,
    pub(super) seen: std::collections::HashSet<String>,
    pub(super) _items: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pages<T> {
    /// Every remaining page, in one list.
    pub async fn all(mut self) -> Result<Vec<T>, GraphError> {
        let mut out = Vec::new();
        while let Some(page) = self.next_page().await? {
            out.extend(page);
        }
        Ok(out)
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, GraphError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            value: Vec<serde_json::Value>,
            #[serde(rename = "@odata.nextLink", default)]
            next_link: Option<String>,
        }
        let feature = self.feature;
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        // A hostile or broken answer must not spend the tenant's shared budget forever.
        if !self.seen.insert(url.as_str().to_string()) {
            return Err(GraphError::Paging {
                feature,
                detail: "a next-page link repeats an earlier page".into(),
            });
        }
        if self.seen.len() > MAX_PAGES {
            return Err(GraphError::Paging {
                feature,
                detail: format!("more than {MAX_PAGES} pages in one read"),
            });
        }
        let page: Page = self.graph.get_json(url, feature).await?;
        let mut out = Vec::with_capacity(page.value.len());
        for raw in page.value {
            // The id is taken before parsing, so the log can name the item it skipped.
            let id = raw
                .get("id")
                .and_then(|v| v.as_str())
                .map(|s| {
                    crate::render::escape::truncate(&crate::render::escape::single_line(s), 100)
                })
                .unwrap_or_else(|| "(none)".into());
            match serde_json::from_value::<T>(raw) {
                Ok(item) => out.push(item),
                Err(e) => {
                    tracing::warn!(%feature, item = %id, error = %e, "skipped an item Graph returned that riskrelay could not read")
                }
            }
        }
        if let Some(link) = page.next_link {
            self.next = Some(self.graph.same_root(&link, feature)?);
        }
        Ok(Some(out))
    }
}
