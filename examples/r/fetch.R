# Every row of a haresign list endpoint, into R: page by page, then as one CSV download.
#
#   HARESIGN_KEY=hs_... Rscript fetch.R [BASE_URL] [ENDPOINT] [FILTER=VALUE ...]

library(httr2)
library(readr)

args <- commandArgs(trailingOnly = TRUE)
base <- if (length(args) >= 1) args[[1]] else "http://127.0.0.1:8000"
endpoint <- if (length(args) >= 2) args[[2]] else "practices/"
pairs <- strsplit(args[-(1:2)], "=", fixed = TRUE)
filters <- setNames(lapply(pairs, `[[`, 2), vapply(pairs, `[[`, "", 1))
url <- paste0(sub("/$", "", base), "/api/v1/", endpoint)
key <- Sys.getenv("HARESIGN_KEY")

get <- function(target, query = list()) {
  req <- req_auth_bearer_token(request(target), key)
  req_perform(do.call(req_url_query, c(list(req), query)))
}

# Follows `next` links until the last page; each page holds at most 500 rows.
rows <- list()
page <- resp_body_json(get(url, c(filters, page_size = 500)), simplifyVector = TRUE)
repeat {
  rows[[length(rows) + 1]] <- page$results
  if (is.null(page$`next`)) break
  page <- resp_body_json(get(page$`next`), simplifyVector = TRUE)
}
paged <- do.call(rbind, rows)

# The same rows in one request: no page limit, values formatted as in JSON.
csv <- resp_body_string(get(url, c(filters, format = "csv")))
downloaded <- read_csv(I(csv), col_types = cols(.default = col_character()), na = character())

cat(sprintf("%s: %d rows by page, %d rows by CSV\n", endpoint, NROW(paged), nrow(downloaded)))
print(head(downloaded))
if (NROW(paged) != nrow(downloaded) || !identical(as.character(paged[[1]]), downloaded[[1]])) {
  stop("the paged rows and the CSV rows differ")
}
