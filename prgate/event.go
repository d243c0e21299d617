package prgate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Event is the part of a GitHub Actions pull_request or pull_request_target
// event payload that the gate reads. Body is "" when GitHub sends null (a
// pull request opened with no description).
type Event struct {
	Name     string // GITHUB_EVENT_NAME: pull_request or pull_request_target
	Number   int
	Title    string
	Body     string
	Labels   []string
	BaseRef  string
	BaseSHA  string
	HeadRef  string
	HeadSHA  string
	HeadRepo string // owner/name of the head repository; "" when the fork was deleted
	BaseRepo string // owner/name of the base repository
	// Fork is true when the head branch lives in another repository than the
	// base (a pull request from a fork), including a fork since deleted.
	Fork   bool
	Action string // opened, edited, synchronize, reopened, labeled, ...
}

// PullRequestEvents are the GITHUB_EVENT_NAME values whose payload carries a
// pull request in the shape LoadEvent reads.
var PullRequestEvents = []string{"pull_request", "pull_request_target"}

// IsPullRequestEvent reports whether eventName (GITHUB_EVENT_NAME) is one the
// gate runs for.
func IsPullRequestEvent(eventName string) bool {
	for _, n := range PullRequestEvents {
		if eventName == n {
			return true
		}
	}
	return false
}

// payload mirrors GitHub's webhook JSON for the fields used; everything else
// in the (large) payload is ignored.
type payload struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number int     `json:"number"`
		Title  string  `json:"title"`
		Body   *string `json:"body"`
		Labels []struct {
			Name string `json:"name"`
		} `json:"labels"`
		Base branchRef `json:"base"`
		Head branchRef `json:"head"`
	} `json:"pull_request"`
}

type branchRef struct {
	Ref  string `json:"ref"`
	SHA  string `json:"sha"`
	Repo *struct {
		FullName string `json:"full_name"`
	} `json:"repo"`
}

// LoadEvent reads the event payload GitHub Actions wrote at path
// ($GITHUB_EVENT_PATH) for the event eventName ($GITHUB_EVENT_NAME). It needs
// no network and no token. It fails when the event is not a pull request
// event, when the file cannot be read, when the JSON is malformed (the error
// is located as path:line:col) or when the payload has no pull_request.
func LoadEvent(eventName, path string) (*Event, error) {
	if !IsPullRequestEvent(eventName) {
		if eventName == "" {
			return nil, errors.New("no event name (GITHUB_EVENT_NAME is empty): the pull-request gate runs for pull_request or pull_request_target events")
		}
		return nil, fmt.Errorf("event %q is not a pull request event (want pull_request or pull_request_target)", eventName)
	}
	if path == "" {
		return nil, errors.New("no event payload path (GITHUB_EVENT_PATH is empty)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading event payload: %w", err)
	}
	return ParseEvent(eventName, path, data)
}

// ParseEvent is LoadEvent on bytes already read; path only locates errors.
func ParseEvent(eventName, path string, data []byte) (*Event, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, locateJSONError(path, data, err)
	}
	pr := p.PullRequest
	if pr == nil {
		return nil, fmt.Errorf("%s: event payload has no pull_request object (is this a %s event payload?)", path, eventName)
	}
	ev := &Event{
		Name:    eventName,
		Number:  pr.Number,
		Title:   pr.Title,
		BaseRef: pr.Base.Ref,
		BaseSHA: pr.Base.SHA,
		HeadRef: pr.Head.Ref,
		HeadSHA: pr.Head.SHA,
		Action:  p.Action,
	}
	if ev.Number == 0 {
		ev.Number = p.Number
	}
	if pr.Body != nil {
		ev.Body = *pr.Body
	}
	for _, l := range pr.Labels {
		ev.Labels = append(ev.Labels, l.Name)
	}
	if pr.Base.Repo != nil {
		ev.BaseRepo = pr.Base.Repo.FullName
	}
	if pr.Head.Repo != nil {
		ev.HeadRepo = pr.Head.Repo.FullName
	}
	// A deleted fork leaves head.repo null; it was still another repository.
	ev.Fork = pr.Head.Repo == nil || !strings.EqualFold(ev.HeadRepo, ev.BaseRepo)
	if ev.BaseSHA == "" || ev.HeadSHA == "" {
		return nil, fmt.Errorf("%s: pull_request has no base.sha or head.sha", path)
	}
	return ev, nil
}

// locateJSONError turns encoding/json's byte offsets into path:line:col.
func locateJSONError(path string, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		return fmt.Errorf("%s:%d:%d: invalid JSON: %s", path, line, col, syn.Error())
	case errors.As(err, &typ):
		line, col := lineCol(data, valueStart(data, typ.Offset)+1)
		field := typ.Field
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("%s:%d:%d: %s: cannot use JSON %s as %s", path, line, col, field, typ.Value, typ.Type)
	}
	return fmt.Errorf("%s: invalid JSON: %w", path, err)
}

// valueStart finds where the JSON value that a type error is about begins.
// encoding/json reports the offset after a scalar value but after the
// opening bracket of an object or array.
func valueStart(data []byte, offset int64) int64 {
	if offset <= 0 || offset > int64(len(data)) {
		return offset
	}
	i := offset - 1
	switch data[i] {
	case '{', '[':
		return i
	case '"':
		for j := i - 1; j >= 0; j-- {
			if data[j] != '"' {
				continue
			}
			bs := 0
			for k := j - 1; k >= 0 && data[k] == '\\'; k-- {
				bs++
			}
			if bs%2 == 0 {
				return j
			}
		}
		return i
	}
	for i > 0 && strings.IndexByte("0123456789+-.eEtruefalsn", data[i-1]) >= 0 {
		i--
	}
	return i
}

// lineCol converts the offset encoding/json reports (bytes read when the
// error was noticed) into a 1-based line and column of the offending byte;
// at the end of the input, of the position just past the last byte.
func lineCol(data []byte, offset int64) (line, col int) {
	if offset >= int64(len(data)) {
		offset = int64(len(data))
	} else if offset > 0 {
		offset-- // the offset is one past the byte that failed
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
