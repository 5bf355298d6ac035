"""A small client for lossmond, using only the Python standard library.

Copy this file next to your training script, or put examples/ on
PYTHONPATH, then:

    from lossmon_client import LossmonClient, LossmonError

    lm = LossmonClient("http://127.0.0.1:8080")
    lm.create_run("mnist-1",
                  losses=[{"type": "cross_entropy", "weight": 1.0}],
                  params={"lr": 0.01}, tags={"model": "mlp"})
    reply = lm.post_batch("mnist-1", step, logits, targets)
    lm.post_scalars("mnist-1", step, {"lr": 0.01}, split="train")
    points = lm.history("mnist-1", "total", split="train")

Predictions and targets may be nested lists of numbers or anything with
a .tolist() method (PyTorch tensors, NumPy arrays); nothing else is
imported.  JSON has no tokens for NaN and the infinities, so they travel
as the strings "NaN", "Infinity" and "-Infinity"; this module converts
them both ways, and the values it returns are always floats.

Every reply with status 4xx or 5xx raises LossmonError, which carries
the status and the server's error code and message.  Each request opens
its own connection (no keep-alive).
"""
import json
import math
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["LossmonClient", "LossmonError"]

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class LossmonError(Exception):
    """A request failed.

    status is the HTTP status (None when the server could not be
    reached), code the server's error code ("invalid_field",
    "not_found", ...; None when the reply carried none) and message its
    explanation.
    """

    def __init__(self, status, code, message):
        self.status = status
        self.code = code
        self.message = message
        if status is None:
            text = message
        else:
            text = "%s %s: %s" % (status, code or "error", message)
        super().__init__(text)


def encode_values(value):
    """Returns value as JSON-ready nested lists.

    Anything with .tolist() is converted first; non-finite floats become
    the strings the API expects.
    """
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, (list, tuple)):
        return [encode_values(v) for v in value]
    return value


def decode_value(value):
    """Returns a number of a reply as a float ("NaN" -> nan, ...)."""
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise LossmonError(None, None,
                               "unexpected value %r in a reply" % value)
        return _NONFINITE[value]
    if value is None:
        return None
    return float(value)


def _decode_map(values):
    return {name: decode_value(v) for name, v in values.items()}


class LossmonClient:
    """The REST API of one lossmond, e.g. LossmonClient("http://h:8080")."""

    def __init__(self, url="http://127.0.0.1:8080", timeout=30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def dashboard_url(self, run):
        """The address of the run's page on the dashboard."""
        return "%s/#run=%s" % (self.url, urllib.parse.quote(run, safe=""))

    def create_run(self, name, losses=None, params=None, tags=None):
        """Creates the run, or finds it if it exists with the same
        losses; returns the run object.  A run that exists with other
        losses raises LossmonError with code "conflict".
        """
        body = {}
        if losses is not None:
            body["losses"] = losses
        if params is not None:
            body["params"] = params
        if tags is not None:
            body["tags"] = tags
        return self._request("PUT", self._run_path(name), body)

    def get_run(self, name):
        """Returns the run object; LossmonError "not_found" if missing."""
        return self._request("GET", self._run_path(name))

    def runs(self):
        """Returns the list of all run objects, ordered by name."""
        return self._request("GET", "/api/v1/runs")["runs"]

    def delete_run(self, name):
        """Deletes the run and all its points."""
        return self._request("DELETE", self._run_path(name))

    def post_batch(self, run, step, predictions, targets=None,
                   split="train", id=None, **inputs):
        """Posts one batch to (run, split, step).

        Batches posted to the same step add up: the stored value is the
        loss over all their samples.  Returns the reply, whose "losses"
        (per term) and "total" are the values of this batch alone.
        Losses that take more inputs get them by name, e.g.
        positives=..., negatives=... for triplet_margin, or variance=...
        for gaussian_nll.  An id makes a retry safe: the daemon answers
        a repeated id with its first reply and counts nothing twice.
        """
        body = {"step": int(step), "split": split,
                "predictions": encode_values(predictions)}
        if targets is not None:
            body["targets"] = encode_values(targets)
        for name, value in inputs.items():
            body[name] = encode_values(value)
        if id is not None:
            body["id"] = str(id)
        reply = self._request("POST", self._run_path(run, "batches"), body)
        reply["losses"] = _decode_map(reply.get("losses", {}))
        reply["total"] = decode_value(reply.get("total"))
        return reply

    def post_scalars(self, run, step, values, split="train", id=None):
        """Posts named scalars, e.g. {"lr": 0.01}, at (run, split, step).
        A scalar posted several times at one step keeps the mean.
        """
        body = {"step": int(step), "split": split,
                "values": {name: encode_values(float(v))
                           for name, v in values.items()}}
        if id is not None:
            body["id"] = str(id)
        reply = self._request("POST", self._run_path(run, "scalars"), body)
        reply["values"] = _decode_map(reply.get("values", {}))
        return reply

    def history(self, run, metric="total", split="train", from_step=None,
                to_step=None, max_points=None):
        """Returns the points of one metric as a list of
        (step, value, unix_seconds) tuples ordered by step.
        """
        query = {"metric": metric, "split": split}
        if from_step is not None:
            query["from"] = int(from_step)
        if to_step is not None:
            query["to"] = int(to_step)
        if max_points is not None:
            query["max_points"] = int(max_points)
        path = self._run_path(run, "history") + "?" + \
            urllib.parse.urlencode(query)
        reply = self._request("GET", path)
        return [(int(p[0]), decode_value(p[1]), p[2])
                for p in reply["points"]]

    def metrics(self, run):
        """Returns the run's metrics: dicts with name, split, kind,
        points, first_step and last_step.
        """
        return self._request("GET", self._run_path(run, "metrics"))["metrics"]

    def _run_path(self, run, *rest):
        parts = ["/api/v1/runs", urllib.parse.quote(run, safe="")]
        return "/".join(parts + list(rest))

    def _request(self, method, path, body=None):
        """Sends one request; returns the parsed JSON of a 2xx reply."""
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                text = r.read()
        except urllib.error.HTTPError as e:
            raise _server_error(e.code, e.read()) from None
        except urllib.error.URLError as e:
            raise LossmonError(None, None, "cannot reach lossmond at %s: %s"
                               % (self.url, e.reason)) from None
        try:
            return json.loads(text)
        except ValueError:
            raise LossmonError(None, None, "%s %s: the reply is not JSON"
                               % (method, path)) from None


def _server_error(status, text):
    """Builds the LossmonError of a 4xx/5xx reply from its body."""
    try:
        err = json.loads(text)["error"]
        return LossmonError(status, err.get("code"), err.get("message"))
    except (ValueError, KeyError, TypeError, AttributeError):
        snippet = text[:200].decode("utf-8", "replace").strip()
        return LossmonError(status, None, snippet or "no error message")
