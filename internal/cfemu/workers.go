package cfemu

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

const (
	codeWorkerNotFound     = 10007
	codeVersionNotFound    = 10221 // emulator's choice; the real API's code for this case is not documented
	codeDeploymentNotFound = 10222
	codeBadRequest         = 10021
	// maxDeployable is how many recent versions ?deployable=true returns:
	// Cloudflare can only deploy (and roll back to) the 100 newest versions.
	maxDeployable = 100
	// maxPerPage is the largest page the versions list serves.
	maxPerPage = 100
	// defaultPerPage is the page size when the client sends none.
	defaultPerPage = 10
	// maxDeploymentMessage mirrors Cloudflare's truncation of
	// workers/message on deployments.
	maxDeploymentMessage = 1000
	autoDeployMessage    = "Automatic deployment on upload."
)

// apiRoutes are the API routes the emulator implements, "METHOD /path"
// under APIPrefix, with their handlers.
var apiRoutes = []struct {
	pattern string
	handler func(*Emulator, http.ResponseWriter, *http.Request)
}{
	{"GET /memberships", (*Emulator).getMemberships},
	{"GET /accounts", (*Emulator).getAccounts},
	{"GET /accounts/{account}/workers/subdomain", (*Emulator).getAccountSubdomain},
	{"PUT /accounts/{account}/workers/subdomain", (*Emulator).putAccountSubdomain},
	{"GET /accounts/{account}/workers/services/{script}", (*Emulator).getService},
	{"GET /accounts/{account}/workers/scripts", (*Emulator).listScripts},
	{"PUT /accounts/{account}/workers/scripts/{script}", (*Emulator).putScript},
	{"GET /accounts/{account}/workers/scripts/{script}/settings", (*Emulator).getSettings},
	{"GET /accounts/{account}/workers/scripts/{script}/script-settings", (*Emulator).getScriptSettings},
	{"PATCH /accounts/{account}/workers/scripts/{script}/script-settings", (*Emulator).patchScriptSettings},
	{"GET /accounts/{account}/workers/scripts/{script}/subdomain", (*Emulator).getScriptSubdomain},
	{"POST /accounts/{account}/workers/scripts/{script}/subdomain", (*Emulator).postScriptSubdomain},
	{"GET /accounts/{account}/workers/scripts/{script}/versions", (*Emulator).listVersions},
	{"POST /accounts/{account}/workers/scripts/{script}/versions", (*Emulator).postVersion},
	{"GET /accounts/{account}/workers/scripts/{script}/versions/{version}", (*Emulator).getVersion},
	{"GET /accounts/{account}/workers/scripts/{script}/deployments", (*Emulator).listDeployments},
	{"POST /accounts/{account}/workers/scripts/{script}/deployments", (*Emulator).postDeployment},
	{"GET /accounts/{account}/workers/scripts/{script}/deployments/{deployment}", (*Emulator).getDeployment},
	{"GET /accounts/{account}/d1/database", (*Emulator).listD1},
	{"POST /accounts/{account}/d1/database", (*Emulator).postD1},
	{"GET /accounts/{account}/d1/database/{db}", (*Emulator).getD1},
	{"POST /accounts/{account}/d1/database/{db}/query", (*Emulator).queryD1},
	{"POST /accounts/{account}/d1/database/{db}/raw", (*Emulator).rawD1},
	{"GET /accounts/{account}/d1/database/{db}/time_travel/bookmark", (*Emulator).bookmarkD1},
}

func (e *Emulator) routes() {
	m := http.NewServeMux()
	for _, rt := range append(apiRoutes[:len(apiRoutes):len(apiRoutes)], r2Routes...) {
		method, path, _ := strings.Cut(rt.pattern, " ")
		h := rt.handler
		m.HandleFunc(method+" "+APIPrefix+path, func(w http.ResponseWriter, r *http.Request) { h(e, w, r) })
	}
	e.api = m
	e.adminRoutes()
}

// Routes lists the API routes the emulator implements ("METHOD /path").
func Routes() []string {
	out := make([]string, 0, len(apiRoutes)+len(r2Routes))
	for _, rt := range append(apiRoutes[:len(apiRoutes):len(apiRoutes)], r2Routes...) {
		out = append(out, rt.pattern)
	}
	return out
}

// inScript runs f with the emulator locked and the request's worker
// ({account}, {script}) found; a worker the account does not have is
// answered 404, as Cloudflare does.
func (e *Emulator) inScript(w http.ResponseWriter, r *http.Request, f func(s *Script)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st.script(r.PathValue("account"), r.PathValue("script"))
	if s == nil {
		notFoundWorker(w, r.PathValue("script"))
		return
	}
	f(s)
}

// decodeBody reads a JSON request body of at most limit bytes into v.
func decodeBody(r *http.Request, limit int64, v any) error {
	return json.NewDecoder(io.LimitReader(r.Body, limit)).Decode(v)
}

// writeAll answers a list as its only page.
func writeAll[T any](w http.ResponseWriter, items []T) {
	writePaged(w, items, resultInfo{Page: 1, PerPage: len(items), Count: len(items), TotalCount: len(items), TotalPages: 1})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return hex.EncodeToString(b)
}

// clientSource is what Cloudflare records as the source of a version or
// deployment: wrangler identifies itself in its User-Agent.
func clientSource(r *http.Request) string {
	if strings.Contains(strings.ToLower(r.UserAgent()), "wrangler") {
		return "wrangler"
	}
	return "api"
}

func notFoundWorker(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, codeWorkerNotFound, fmt.Sprintf("This Worker does not exist on your account. (%s)", name))
}

func (e *Emulator) getMemberships(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]map[string]any, 0, len(e.accounts))
	for _, id := range e.accounts {
		out = append(out, map[string]any{
			"id":      "m-" + id,
			"status":  "accepted",
			"account": map[string]any{"id": id, "name": "Emulated account " + id[:min(8, len(id))]},
			"roles":   []string{"Administrator"},
		})
	}
	writeAll(w, out)
}

func (e *Emulator) getAccounts(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]map[string]any, 0, len(e.accounts))
	for _, id := range e.accounts {
		out = append(out, map[string]any{"id": id, "name": "Emulated account " + id[:min(8, len(id))]})
	}
	writeAll(w, out)
}

func (e *Emulator) getAccountSubdomain(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sub := DefaultSubdomain // every account starts with one, so deploys need no prompt
	if a := e.st.account(r.PathValue("account"), false); a != nil {
		sub = a.Subdomain
	}
	if sub == "" {
		writeError(w, http.StatusNotFound, codeWorkerNotFound, "No workers.dev subdomain registered for this account.")
		return
	}
	writeResult(w, map[string]string{"subdomain": sub})
}

func (e *Emulator) putAccountSubdomain(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Subdomain string `json:"subdomain"`
	}
	if err := decodeBody(r, 1<<20, &body); err != nil || body.Subdomain == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "request body must be {\"subdomain\": \"...\"}")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(r.PathValue("account"), true)
	a.Subdomain = body.Subdomain
	writeResult(w, map[string]string{"subdomain": a.Subdomain})
}

func (e *Emulator) getService(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) { writeResult(w, serviceObject(s)) })
}

// serviceObject is a worker as the services endpoint describes it.
func serviceObject(s *Script) map[string]any {
	etag := ""
	if n := len(s.Versions); n > 0 {
		etag = s.Versions[n-1].Resources.Script.Etag
	}
	tags := []string{}
	if t, ok := s.Settings["tags"].([]any); ok {
		for _, v := range t {
			if str, ok := v.(string); ok {
				tags = append(tags, str)
			}
		}
	}
	return map[string]any{
		"id":          s.Name,
		"created_on":  s.CreatedOn,
		"modified_on": s.ModifiedOn,
		"default_environment": map[string]any{
			"environment": "production",
			"created_on":  s.CreatedOn,
			"modified_on": s.ModifiedOn,
			"script": map[string]any{
				"id":                 s.Name,
				"tag":                s.Tag,
				"tags":               tags,
				"etag":               etag,
				"handlers":           []string{"fetch"},
				"created_on":         s.CreatedOn,
				"modified_on":        s.ModifiedOn,
				"usage_model":        "standard",
				"last_deployed_from": "wrangler",
			},
		},
	}
}

func (e *Emulator) listScripts(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	if a := e.st.account(r.PathValue("account"), false); a != nil {
		names := make([]string, 0, len(a.Scripts))
		for n := range a.Scripts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			s := a.Scripts[n]
			out = append(out, map[string]any{"id": s.Name, "tag": s.Tag, "created_on": s.CreatedOn, "modified_on": s.ModifiedOn})
		}
	}
	writeResult(w, out)
}

// uploadMetadata is the part of the multipart "metadata" JSON the emulator
// keeps.
type uploadMetadata struct {
	MainModule         string            `json:"main_module"`
	BodyPart           string            `json:"body_part"`
	CompatibilityDate  string            `json:"compatibility_date"`
	CompatibilityFlags []string          `json:"compatibility_flags"`
	Bindings           []json.RawMessage `json:"bindings"`
	Annotations        map[string]any    `json:"annotations"`
	UsageModel         string            `json:"usage_model"`
}

type upload struct {
	meta    uploadMetadata
	modules map[string]string
	etag    string
}

// readUpload parses a worker upload (multipart/form-data with a "metadata"
// JSON part and one part per module).
func readUpload(r *http.Request) (*upload, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("expected multipart/form-data upload: %v", err)
	}
	up := &upload{modules: map[string]string{}}
	sawMeta := false
	all := sha256.New()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading multipart upload: %v", err)
		}
		if err := up.readPart(part, &sawMeta, all); err != nil {
			return nil, err
		}
	}
	if !sawMeta {
		return nil, fmt.Errorf("multipart upload has no metadata part")
	}
	if up.meta.MainModule == "" && up.meta.BodyPart == "" {
		return nil, fmt.Errorf("metadata names neither main_module nor body_part")
	}
	main := up.meta.MainModule
	if main == "" {
		main = up.meta.BodyPart
	}
	if _, ok := up.modules[main]; !ok {
		return nil, fmt.Errorf("main module %q is not among the uploaded parts", main)
	}
	up.etag = hex.EncodeToString(all.Sum(nil))
	return up, nil
}

func (up *upload) readPart(part *multipart.Part, sawMeta *bool, all io.Writer) error {
	defer part.Close()
	data, err := io.ReadAll(io.LimitReader(part, 64<<20))
	if err != nil {
		return fmt.Errorf("reading part %q: %v", part.FormName(), err)
	}
	name := part.FormName()
	if name == "metadata" {
		if err := json.Unmarshal(data, &up.meta); err != nil {
			return fmt.Errorf("metadata part is not valid JSON: %v", err)
		}
		*sawMeta = true
		return nil
	}
	sum := sha256.Sum256(data)
	up.modules[name] = hex.EncodeToString(sum[:])
	fmt.Fprintf(all, "%s\x00%x\x00", name, sum)
	return nil
}

func (up *upload) annotations() map[string]string {
	out := map[string]string{}
	for k, v := range up.meta.Annotations {
		if s, ok := v.(string); ok && s != "" {
			out[k] = s
		}
	}
	return out
}

// newVersionLocked appends a version built from up to s.
func (e *Emulator) newVersionLocked(source string, s *Script, up *upload, triggeredBy string) *Version {
	ts := stamp(e.now())
	ann := up.annotations()
	ann["workers/triggered_by"] = triggeredBy
	bindings := up.meta.Bindings
	if bindings == nil {
		bindings = []json.RawMessage{}
	}
	flags := up.meta.CompatibilityFlags
	if flags == nil {
		flags = []string{}
	}
	main := up.meta.MainModule
	if main == "" {
		main = up.meta.BodyPart
	}
	v := &Version{
		ID:     uuid.NewString(),
		Number: len(s.Versions) + 1,
		Metadata: VersionMetadata{
			CreatedOn:   ts,
			ModifiedOn:  ts,
			AuthorEmail: e.author,
			AuthorID:    "emulated-user",
			Source:      source,
		},
		Annotations: ann,
		Resources: VersionResources{
			Bindings:      bindings,
			Script:        ScriptResource{Etag: up.etag, Handlers: []string{"fetch"}, LastDeployedFrom: source},
			ScriptRuntime: ScriptRuntime{CompatibilityDate: up.meta.CompatibilityDate, CompatibilityFlags: flags, UsageModel: "standard"},
		},
		Modules:    up.modules,
		MainModule: main,
	}
	s.Versions = append(s.Versions, v)
	s.ModifiedOn = ts
	return v
}

// putScript is the upload of `wrangler deploy` for a worker that does not
// exist yet (and of older flows for existing ones): it creates a version and
// deploys it at 100% in one step.
func (e *Emulator) putScript(w http.ResponseWriter, r *http.Request) {
	up, err := readUpload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, v := e.putScriptLocked(r.PathValue("account"), r.PathValue("script"), up, clientSource(r))
	writeResult(w, map[string]any{
		"id":                 s.Name,
		"tag":                s.Tag,
		"etag":               v.Resources.Script.Etag,
		"handlers":           v.Resources.Script.Handlers,
		"created_on":         s.CreatedOn,
		"modified_on":        s.ModifiedOn,
		"compatibility_date": up.meta.CompatibilityDate,
		"usage_model":        "standard",
		"has_modules":        up.meta.MainModule != "",
		"last_deployed_from": v.Resources.Script.LastDeployedFrom,
		"deployment_id":      v.ID,
		"startup_time_ms":    1,
	})
}

// putScriptLocked creates the worker if needed, then a version deployed at
// 100% by an "upload" deployment.
func (e *Emulator) putScriptLocked(account, name string, up *upload, source string) (*Script, *Version) {
	a := e.st.account(account, true)
	s := a.Scripts[name]
	if s == nil {
		ts := stamp(e.now())
		s = &Script{Name: name, Tag: randomHex(16), CreatedOn: ts, ModifiedOn: ts, Settings: map[string]any{}}
		a.Scripts[name] = s
	}
	v := e.newVersionLocked(source, s, up, "upload")
	msg := v.Annotations["workers/message"]
	if msg == "" {
		msg = autoDeployMessage
	}
	e.addDeploymentLocked(s, source, map[string]string{"workers/triggered_by": "upload", "workers/message": msg},
		[]DeploymentVersion{{VersionID: v.ID, Percentage: 100}})
	return s, v
}

// addDeploymentLocked appends a deployment of versions, made now by the
// emulator's author, to s.
func (e *Emulator) addDeploymentLocked(s *Script, source string, ann map[string]string, versions []DeploymentVersion) *Deployment {
	d := &Deployment{
		ID:          uuid.NewString(),
		CreatedOn:   stamp(e.now()),
		Source:      source,
		Strategy:    "percentage",
		AuthorEmail: e.author,
		Annotations: ann,
		Versions:    versions,
	}
	s.Deployments = append(s.Deployments, d)
	return d
}

// postVersion uploads a version of an existing worker without deploying it.
func (e *Emulator) postVersion(w http.ResponseWriter, r *http.Request) {
	up, err := readUpload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	e.inScript(w, r, func(s *Script) {
		writeResult(w, versionDetail(e.newVersionLocked(clientSource(r), s, up, "version_upload"), true))
	})
}

// versionItem is a version as the list returns it (no resources).
func versionItem(v *Version) map[string]any {
	return map[string]any{"id": v.ID, "number": v.Number, "metadata": v.Metadata, "annotations": v.Annotations}
}

func versionDetail(v *Version, startup bool) map[string]any {
	m := versionItem(v)
	m["resources"] = v.Resources
	if startup {
		m["startup_time_ms"] = 1
	}
	return m
}

func (e *Emulator) listVersions(w http.ResponseWriter, r *http.Request) {
	page, perPage, ok := pageParams(w, r, defaultPerPage, codeBadRequest)
	if !ok {
		return
	}
	perPage = min(perPage, maxPerPage)
	e.inScript(w, r, func(s *Script) { writeVersions(w, s, page, perPage, r.URL.Query().Get("deployable") == "true") })
}

// writeVersions answers one page of the versions list, newest first; a
// deployable list ignores pagination, as the API documents.
func writeVersions(w http.ResponseWriter, s *Script, page, perPage int, deployable bool) {
	newest := make([]*Version, len(s.Versions))
	for i, v := range s.Versions {
		newest[len(s.Versions)-1-i] = v
	}
	items := []map[string]any{}
	if deployable {
		// Later pages are empty so that auto-pagers stop.
		if page == 1 {
			for _, v := range newest[:min(len(newest), maxDeployable)] {
				items = append(items, versionItem(v))
			}
		}
		writePaged(w, map[string]any{"items": items}, resultInfo{Page: page, PerPage: len(items), Count: len(items), TotalCount: min(len(newest), maxDeployable), TotalPages: 1})
		return
	}
	start := (page - 1) * perPage
	for i := start; i < len(newest) && i < start+perPage; i++ {
		items = append(items, versionItem(newest[i]))
	}
	totalPages := int(math.Ceil(float64(len(newest)) / float64(perPage)))
	writePaged(w, map[string]any{"items": items}, resultInfo{Page: page, PerPage: perPage, Count: len(items), TotalCount: len(newest), TotalPages: totalPages})
}

// pageParams reads ?page and ?per_page (default defPerPage); a value that
// is not a positive integer is answered 400 with code, and ok is false.
func pageParams(w http.ResponseWriter, r *http.Request, defPerPage, code int) (page, perPage int, ok bool) {
	q := r.URL.Query()
	page, err := positiveInt(q.Get("page"), 1)
	if err != nil {
		writeError(w, http.StatusBadRequest, code, "page: "+err.Error())
		return 0, 0, false
	}
	perPage, err = positiveInt(q.Get("per_page"), defPerPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, code, "per_page: "+err.Error())
		return 0, 0, false
	}
	return page, perPage, true
}

func positiveInt(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("must be a positive integer, got %q", s)
	}
	return n, nil
}

func findVersion(s *Script, id string) *Version {
	for _, v := range s.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (e *Emulator) getVersion(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) {
		v := findVersion(s, r.PathValue("version"))
		if v == nil {
			writeError(w, http.StatusNotFound, codeVersionNotFound, fmt.Sprintf("version %s not found", r.PathValue("version")))
			return
		}
		writeResult(w, versionDetail(v, false))
	})
}

func (e *Emulator) listDeployments(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) {
		out := make([]*Deployment, 0, len(s.Deployments))
		for i := len(s.Deployments) - 1; i >= 0; i-- {
			out = append(out, s.Deployments[i])
		}
		writeResult(w, map[string]any{"deployments": out})
	})
}

func (e *Emulator) getDeployment(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) {
		for _, d := range s.Deployments {
			if d.ID == r.PathValue("deployment") {
				writeResult(w, d)
				return
			}
		}
		writeError(w, http.StatusNotFound, codeDeploymentNotFound, fmt.Sprintf("deployment %s not found", r.PathValue("deployment")))
	})
}

type deploymentRequest struct {
	Strategy    string              `json:"strategy"`
	Versions    []DeploymentVersion `json:"versions"`
	Annotations map[string]any      `json:"annotations"`
}

// postDeployment creates a deployment. A deployment that serves only a
// version older than everything the current deployment serves is recorded as
// a rollback (triggered_by "rollback", rollback_from the current deployment):
// this is the emulator's reading of how Cloudflare labels `wrangler
// rollback`, which sends an ordinary deployment request.
func (e *Emulator) postDeployment(w http.ResponseWriter, r *http.Request) {
	var req deploymentRequest
	if err := decodeBody(r, 1<<20, &req); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "deployment body is not valid JSON: "+err.Error())
		return
	}
	if err := validateSplit(req.Strategy, req.Versions); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	e.inScript(w, r, func(s *Script) {
		d, code, err := e.deployLocked(s, req.Versions, req.Annotations["workers/message"], clientSource(r))
		if err != nil {
			writeError(w, http.StatusBadRequest, code, err.Error())
			return
		}
		writeResult(w, d)
	})
}

// validateSplit checks a deployment's strategy and traffic split.
func validateSplit(strategy string, versions []DeploymentVersion) error {
	if strategy != "percentage" {
		return fmt.Errorf("strategy must be \"percentage\", got %q", strategy)
	}
	if len(versions) < 1 || len(versions) > 2 {
		return fmt.Errorf("a deployment has one or two versions, got %d", len(versions))
	}
	total := 0.0
	for i, v := range versions {
		if i > 0 && v.VersionID == versions[0].VersionID {
			return fmt.Errorf("version %s is listed twice", v.VersionID)
		}
		if v.Percentage < 0 || v.Percentage > 100 {
			return fmt.Errorf("percentage %v out of range", v.Percentage)
		}
		total += v.Percentage
	}
	if math.Abs(total-100) > 1e-9 {
		return fmt.Errorf("percentages sum to %v, not 100", total)
	}
	return nil
}

// deployLocked records a deployment of existing versions of s.
func (e *Emulator) deployLocked(s *Script, versions []DeploymentVersion, message any, source string) (*Deployment, int, error) {
	for _, dv := range versions {
		if findVersion(s, dv.VersionID) == nil {
			return nil, codeVersionNotFound, fmt.Errorf("version %s not found", dv.VersionID)
		}
	}
	ann := map[string]string{"workers/triggered_by": "deployment"}
	if msg, ok := message.(string); ok && msg != "" {
		if len(msg) > maxDeploymentMessage {
			msg = msg[:maxDeploymentMessage]
		}
		ann["workers/message"] = msg
	}
	if n := len(s.Deployments); n > 0 {
		cur := s.Deployments[n-1]
		maxCur := 0
		for _, dv := range cur.Versions {
			if v := findVersion(s, dv.VersionID); v != nil {
				maxCur = max(maxCur, v.Number)
			}
		}
		maxNew := 0
		for _, dv := range versions {
			maxNew = max(maxNew, findVersion(s, dv.VersionID).Number)
		}
		if maxNew < maxCur {
			ann["workers/triggered_by"] = "rollback"
			ann["workers/rollback_from"] = cur.ID
		}
	}
	d := e.addDeploymentLocked(s, source, ann, append([]DeploymentVersion(nil), versions...))
	s.ModifiedOn = d.CreatedOn
	return d, 0, nil
}

func (e *Emulator) getSettings(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) {
		out := scriptSettings(s)
		if n := len(s.Versions); n > 0 {
			v := s.Versions[n-1]
			out["bindings"] = v.Resources.Bindings
			out["compatibility_date"] = v.Resources.ScriptRuntime.CompatibilityDate
			out["compatibility_flags"] = v.Resources.ScriptRuntime.CompatibilityFlags
			out["usage_model"] = "standard"
			out["placement"] = map[string]any{}
		}
		writeResult(w, out)
	})
}

func scriptSettings(s *Script) map[string]any {
	out := map[string]any{
		"logpush":        false,
		"tail_consumers": []any{},
		"observability":  map[string]any{"enabled": false},
		"tags":           []any{},
	}
	for k, v := range s.Settings {
		out[k] = v
	}
	return out
}

func (e *Emulator) getScriptSettings(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) { writeResult(w, scriptSettings(s)) })
}

func (e *Emulator) patchScriptSettings(w http.ResponseWriter, r *http.Request) {
	var patch map[string]any
	if err := decodeBody(r, 1<<20, &patch); err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "script settings body is not valid JSON: "+err.Error())
		return
	}
	e.inScript(w, r, func(s *Script) {
		if s.Settings == nil {
			s.Settings = map[string]any{}
		}
		for k, v := range patch {
			if v == nil {
				delete(s.Settings, k)
				continue
			}
			s.Settings[k] = v
		}
		writeResult(w, scriptSettings(s))
	})
}

func (e *Emulator) getScriptSubdomain(w http.ResponseWriter, r *http.Request) {
	e.inScript(w, r, func(s *Script) { writeResult(w, s.Subdomain) })
}

func (e *Emulator) postScriptSubdomain(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Enabled         *bool `json:"enabled"`
		PreviewsEnabled *bool `json:"previews_enabled"`
	}
	if err := decodeBody(r, 1<<20, &body); err != nil || body.Enabled == nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "request body must be {\"enabled\": bool, \"previews_enabled\": bool}")
		return
	}
	e.inScript(w, r, func(s *Script) {
		s.Subdomain.Enabled = *body.Enabled
		if body.PreviewsEnabled != nil {
			s.Subdomain.PreviewsEnabled = *body.PreviewsEnabled
		} else {
			s.Subdomain.PreviewsEnabled = *body.Enabled
		}
		writeResult(w, s.Subdomain)
	})
}
