"""A client for the lab 06 model service that speaks the `ModelAPI` interface, so the lab 02 and lab 03
attacks run unchanged over HTTP: `.query(x)` returns the (n, classes) answer matrix, `.queries` counts answers."""
from __future__ import annotations

import base64

import numpy as np

N_PIXELS = 4096


class ApiError(RuntimeError):
    """The service refused a request: its HTTP status, its message, and Retry-After when it sent one."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        wait = f" (retry after {retry_after:,} s)" if retry_after is not None else ""
        super().__init__(f"HTTP {status}: {message}{wait}")
        self.status, self.message, self.retry_after = status, message, retry_after


def _native(value):
    """A NumPy scalar as the plain Python value JSON can carry."""
    return value.item() if isinstance(value, np.generic) else value


def score_matrix(results: list[dict], classes: list[str]) -> np.ndarray:
    """The service's answers as a (n, classes) matrix: shown scores, or a one-hot row for a label-only answer."""
    index = {name: i for i, name in enumerate(classes)}
    out = np.zeros((len(results), len(classes)))
    for row, result in zip(out, results):
        if "scores" in result:
            for name, score in result["scores"].items():
                row[index[name]] = score
        else:
            row[index[result["label"]]] = 1.0  # label only: a one-hot row, as ModelAPI gives it
    return out


class HttpModelAPI:
    """The model service seen through one API key, with the same `.query` / `.queries` as `ModelAPI`."""

    def __init__(self, url: str, api_key: str, model: str = "faces", output: str | None = None,
                 timeout: float = 30.0, encoding: str = "base64-float32", patience: float = 0.0,
                 explanation: str | None = None):
        """patience: seconds in all this client may wait out rate limits (429 with Retry-After) before giving up;
        explanation: the explanation `explain` asks for, e.g. 'gradient:any' (the key's role must be given it)."""
        import time

        import httpx

        from ..defences.explanations import parse_explanation

        self.explanation = parse_explanation(explanation) if explanation is not None else None

        self._patience_ends = time.monotonic() + patience
        self._http = httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=timeout, trust_env=False)
        self.model, self.output, self.encoding = model, output, encoding
        info = self._call("GET", "/v1/models")
        if model not in info["models"]:
            self.close()
            raise ValueError(f"The service has no model {model!r}; models: {', '.join(info['models'])}.")
        self.info, self.you = info["models"][model], info["you"]
        self.classes = list(self.info["classes"])
        self.columns = self.info.get("columns")
        self.max_batch = int(self.you["max_batch"])
        self.queries = 0  # inputs answered, as ModelAPI counts them
        self.requests = 0  # HTTP requests sent to predict

    def _call(self, method: str, path: str, body: bytes | None = None) -> dict:
        headers = {"Content-Type": "application/json"} if body is not None else None
        response = self._http.request(method, path, content=body, headers=headers)
        if response.status_code != 200:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            retry = response.headers.get("retry-after")
            raise ApiError(response.status_code, message, int(retry) if retry else None)
        return response.json()

    def _payloads(self, x) -> list:
        """The inputs as JSON-ready items, one per query."""
        if self.info["input"] == "image":
            arr = np.asarray(x, dtype=np.float32)
            if arr.ndim == 0 or arr.size % N_PIXELS:
                raise ValueError(f"Each query must have {N_PIXELS} values (a 64x64 image); got shape {arr.shape}.")
            return list(arr.reshape(-1, N_PIXELS))
        import pandas as pd

        frame = pd.DataFrame([x]) if isinstance(x, dict) else pd.DataFrame(x)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"The query is missing column(s) {missing}. The model needs: {self.columns}.")
        return [{c: _native(v) for c, v in row.items()} for row in frame[self.columns].to_dict("records")]

    def _body(self, items: list, fields: dict | None = None) -> bytes:
        """The request body as JSON bytes (base64 images are spliced in: json.dumps of megabytes is slow)."""
        import json

        extra = ({"output": self.output} if self.output is not None else {}) | (fields or {})
        if self.info["input"] == "image" and self.encoding == "base64-float32":
            head = json.dumps({"encoding": "base64-float32", **extra})[:-1].encode()
            return head + b', "inputs": "' + base64.b64encode(np.stack(items).astype("<f4").tobytes()) + b'"}'
        if self.info["input"] == "image":
            return json.dumps({"inputs": [row.astype(float).tolist() for row in items], **extra}).encode()
        return json.dumps({"inputs": items, **extra}).encode()

    def respond(self, x) -> list[dict]:
        """The answers as the service sends them (label, and scores when the key may see them)."""
        items, results = self._payloads(x), []
        for start in range(0, len(items), self.max_batch):
            chunk = items[start:start + self.max_batch]
            answer = self._patiently(f"/v1/models/{self.model}/predict", self._body(chunk))
            self.requests += 1
            self.queries += len(chunk)
            results += answer["results"]
        return results

    def explain(self, x, classes=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, explained classes, maps) as `ExplainingAPI.explain` gives them; each input is one query."""
        if self.explanation is None:
            raise ValueError("This client asks for no explanation: make it with explanation='gradient:any' (or "
                             "another the key's role is given).")
        items = self._payloads(x)
        wanted = None if classes is None else np.broadcast_to(np.asarray(classes, dtype=np.int64), (len(items),))
        index = {name: i for i, name in enumerate(self.classes)}
        labels, explained, maps = [], [], []
        for start in range(0, len(items), self.max_batch):
            chunk = items[start:start + self.max_batch]
            fields = {"explain": self.explanation.spelling()}
            if wanted is not None:
                fields["classes"] = [int(c) for c in wanted[start:start + len(chunk)]]
            answer = self._patiently(f"/v1/models/{self.model}/predict", self._body(chunk, fields))
            self.requests += 1
            self.queries += len(chunk)
            for r in answer["results"]:
                labels.append(index[r["label"]])
                explained.append(index[r["explanation"]["class"]])
                maps.append(r["explanation"]["map"])
        return np.array(labels), np.array(explained), np.asarray(maps, dtype=np.float32)

    def _patiently(self, path: str, body: bytes) -> dict:
        """POST, waiting out 429s (their Retry-After) while this client's patience lasts; other refusals raise."""
        import time

        while True:
            try:
                return self._call("POST", path, body)
            except ApiError as exc:
                left = self._patience_ends - time.monotonic()
                if exc.status != 429 or exc.retry_after is None or exc.retry_after > left:
                    raise
                time.sleep(max(0.05, exc.retry_after))

    def answer(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(labels, scores) as `ModelAPI.answer` gives them: the label the service sent, and the scores it showed."""
        index = {name: i for i, name in enumerate(self.classes)}
        results = self.respond(x)
        labels = np.array([index[r["label"]] for r in results], dtype=np.int64)
        return labels, self._scores(results)

    def query(self, x) -> np.ndarray:
        """Answer a batch of queries (one row each), split into requests of at most max_batch inputs."""
        return self._scores(self.respond(x))

    def _scores(self, results: list[dict]) -> np.ndarray:
        """The answers as a score matrix: shown scores, or a one-hot row for a label-only answer."""
        return score_matrix(results, self.classes)

    def reset_count(self) -> None:
        """Start counting queries from zero."""
        self.queries = self.requests = 0

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "HttpModelAPI":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Outcome:
    """How an attack run over HTTP ended: its result (None if refused), the refusal, the queries answered, seconds."""

    def __init__(self, result, error: ApiError | None, queries: int, seconds: float):
        self.result, self.error, self.queries, self.seconds = result, error, queries, seconds

    @property
    def stopped_by(self) -> str:
        """'finished', or the status that stopped it, e.g. 'HTTP 429'."""
        return "finished" if self.error is None else f"HTTP {self.error.status}"

    def __repr__(self) -> str:
        return f"<Outcome {self.stopped_by} after {self.queries:,} queries in {self.seconds:.1f} s>"


def run_until_refused(attack, client: HttpModelAPI) -> Outcome:
    """Run attack(client) and report how it ended: finished, or refused by the service (401/403/413/422/429)."""
    import time

    start, before = time.perf_counter(), client.queries
    try:
        result, error = attack(client), None
    except ApiError as exc:
        result, error = None, exc
    return Outcome(result, error, client.queries - before, time.perf_counter() - start)


def post_raw(url: str, api_key: str | None, model: str = "faces", body: dict | str | bytes = b"",
             timeout: float = 10.0) -> dict:
    """One POST to predict exactly as given (no checks): the status, the error message and Retry-After, if any."""
    import json

    import httpx

    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"X-API-Key": api_key} if api_key else {}
    with httpx.Client(timeout=timeout, trust_env=False) as http:
        response = http.post(f"{url}/v1/models/{model}/predict", content=content, headers=headers)
    try:
        payload = response.json()
    except ValueError:
        payload = {"error": response.text}
    return {"status": response.status_code, "error": payload.get("error", ""),
            "retry_after": response.headers.get("retry-after")}
