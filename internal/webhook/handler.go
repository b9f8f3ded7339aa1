package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Path is where the handler is served and where the ValidatingWebhookConfiguration points.
const Path = "/validate"

// DefaultMaxBodyBytes bounds an AdmissionReview: etcd stores objects of up to 1.5 MiB and a
// review of an UPDATE carries two of them as JSON, which may be larger than their stored form.
const DefaultMaxBodyBytes = 7 << 20

// Results, one per request, passed to HandlerOptions.Observe (a metrics label).
const (
	ResultRecorded = "recorded" // allowed, username recorded
	ResultDryRun   = "dry_run"  // allowed, dry-run: nothing recorded
	ResultSkipped  = "skipped"  // allowed, nothing to record (status subresource, CONNECT, no object or username)
	ResultError    = "error"    // allowed, but recording failed
	ResultInvalid  = "invalid"  // malformed request, answered with a 4xx status
)

const reviewAPIVersion = "admission.k8s.io/v1"

// HandlerOptions tunes NewHandler; the zero value is ready to use.
type HandlerOptions struct {
	// Log receives malformed requests and failures to record; nil discards.
	Log *slog.Logger
	// MaxBodyBytes bounds a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Observe, when set, is called once per request with its Result*. It must be cheap and
	// safe for concurrent use (a Prometheus counter's Inc is).
	Observe func(result string)
}

// requestError is a malformed request: the status and the reason sent back.
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, reason: fmt.Sprintf(format, args...)}
}

// handler serves admission.k8s.io/v1 AdmissionReviews: it always allows and records who made
// the change.
type handler struct {
	log     *slog.Logger
	rec     Recorder
	maxBody int64
	observe func(string)
}

// NewHandler returns the /validate handler recording into rec (normally a *Cache).
func NewHandler(rec Recorder, o HandlerOptions) http.Handler {
	h := &handler{rec: rec, maxBody: o.MaxBodyBytes, observe: o.Observe, log: o.Log}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.observe == nil {
		h.observe = func(string) {}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A panic must cost one request, not the process (net/http would also recover it, but the
	// handler may be mounted elsewhere, and the caller deserves an answer).
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("webhook: handler panicked", "panic", p)
			h.observe(ResultError)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	review, err := h.decode(w, r)
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) {
			re = &requestError{status: http.StatusBadRequest, reason: err.Error()}
		}
		h.log.Warn("webhook: malformed admission request", "status", re.status, "reason", re.reason, "remote", r.RemoteAddr)
		h.observe(ResultInvalid)
		http.Error(w, re.reason, re.status)
		return
	}
	result := h.record(review.Request)
	if err := writeAllowed(w, review.Request.UID); err != nil {
		h.log.Debug("webhook: writing admission response failed", "err", err)
	}
	h.observe(result)
}

// decode reads and checks the AdmissionReview. Reasons never quote the body: it may hold a
// Secret.
func (h *handler) decode(w http.ResponseWriter, r *http.Request) (*admissionv1.AdmissionReview, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &requestError{status: http.StatusMethodNotAllowed, reason: "method must be POST"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, badRequest("content type must be application/json")
	}
	if r.ContentLength > h.maxBody {
		return nil, badRequest("body larger than %d bytes", h.maxBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, badRequest("body larger than %d bytes", h.maxBody)
	} else if err != nil {
		return nil, badRequest("read body: %v", err)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, badRequest("body is not an AdmissionReview: %v", err)
	}
	if review.APIVersion != reviewAPIVersion || review.Kind != "AdmissionReview" {
		return nil, badRequest("want %s AdmissionReview", reviewAPIVersion)
	}
	if review.Request == nil {
		return nil, badRequest("AdmissionReview has no request")
	}
	if review.Request.UID == "" {
		return nil, badRequest("AdmissionReview request has no uid")
	}
	return &review, checkBounds(review.Request)
}

// checkBounds refuses what would cost more than its size to record: objects nested deeper than
// snapshot.MaxDepth (rendering them grows with the square of the depth) and usernames longer
// than MaxUsernameBytes (the cache keeps them).
func checkBounds(req *admissionv1.AdmissionRequest) error {
	if snapshot.JSONTooDeep(req.Object.Raw) || snapshot.JSONTooDeep(req.OldObject.Raw) {
		return badRequest("object nested deeper than %d levels", snapshot.MaxDepth)
	}
	if len(req.UserInfo.Username) > MaxUsernameBytes {
		return badRequest("username longer than %d bytes", MaxUsernameBytes)
	}
	return nil
}

// record stores the request's username and returns the result. It never fails the request:
// the change is allowed whatever happens here.
func (h *handler) record(req *admissionv1.AdmissionRequest) (result string) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("webhook: recording a change panicked", "panic", p,
				"group", req.Resource.Group, "resource", req.Resource.Resource, "namespace", req.Namespace, "name", req.Name)
			result = ResultError
		}
	}()
	if req.DryRun != nil && *req.DryRun {
		return ResultDryRun
	}
	k, ok, err := admissionKey(req)
	if err != nil {
		h.log.Warn("webhook: cannot hash the object of an admission request", "err", err)
		return ResultError
	}
	if !ok || req.UserInfo.Username == "" {
		return ResultSkipped
	}
	h.rec.Record(k, req.UserInfo.Username)
	return ResultRecorded
}

var errUndecodable = errors.New("object is not a Kubernetes object")

func writeAllowed(w http.ResponseWriter, uid types.UID) error {
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{UID: uid, Allowed: true},
	})
	if err != nil {
		return fmt.Errorf("marshal admission response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(b)
	return err
}
