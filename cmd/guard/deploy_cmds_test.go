package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/guardcm/guard/internal/cfemu"
	"github.com/guardcm/guard/internal/wrangler/wranglertest"
	"github.com/guardcm/guard/ledger"
)

// deployScriptCmds are the testscript commands of the deploy, history and
// ledger scripts:
//
//	cfemu start [-token T] [-account ID] [-d1 UUID=NAME]...
//	    start the Cloudflare API emulator in the test process on loopback
//	    and point the script's environment at it (CLOUDFLARE_API_BASE_URL,
//	    CLOUDFLARE_BASE_URL, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN);
//	    it stops when the script ends
//	cfemu fault [-after N] JSON
//	    install a cfemu.Fault; with -after, only once N requests matching
//	    its method and path have been served (so wrangler's own call to a
//	    route passes and guard's later call fails)
//	cfemu nofaults            remove every fault
//	cfemu requests            print the request log, "METHOD PATH STATUS"
//	cfemu clear               empty the request log
//	cfemu await METHOD PATH   wait until a request matching METHOD and PATH
//	                          (cfemu.Fault's path syntax) has arrived, even
//	                          one still being answered (a delay fault)
//	cfemu latest WORKER       set VERSION_ID, DEPLOYMENT_ID, VERSION_TAG and
//	                          VERSION_MESSAGE from the worker's newest
//	                          deployment and print them, then one
//	                          "module NAME SHA256" line per uploaded module
//	                          (MAIN_MODULE_SHA: the main module's);
//	                          negated: the worker has no deployment
//	cfemu count WORKER        print "versions N deployments M"
//	cfemu deployments WORKER  print every deployment, oldest first, as
//	                          "<version>@<percent>% ..." per line
//	cfemu unhealthy WORKER REV [STATUS]
//	                          make the versions tagged with commit REV
//	                          (resolved by git in the current directory;
//	                          guard tags a version with its commit) answer
//	                          STATUS (500) on the edge ($CFEMU_EDGE/<worker>/...)
//	cfemu edge WORKER         print the edge requests each version served:
//	                          "<version> percentage N override M"
//	wranglerlink DIR          symlink the pinned wrangler as
//	                          DIR/node_modules/.bin/wrangler (fails when it is
//	                          not installed)
//	httpserve VAR S1[,S2...]  serve the statuses in turn (the last repeats) on
//	                          loopback; set VAR to the URL
//	holdlock DIR NAME         hold the deploy lock DIR/NAME.lock from the test
//	                          process until the script ends
//	ledgerappend FILE KIND STATUS WORKER [KEY=VALUE...]
//	                          append a record with the ledger package
//	line FILE N               print line N of FILE (1-based; -1 is the last)
//	replaceline FILE N OLD NEW
//	                          replace OLD by NEW in line N of FILE
//	waitfor [-after N] FILE REGEXP
//	                          wait (up to 60 s) until FILE has a line after
//	                          line N matching REGEXP
//	lines FILE VAR            set VAR to the number of lines of FILE (0
//	                          when it does not exist)
//	exitcode N CMD ARGS...    run CMD like exec and require exit status N
//	expand FILE               replace $VAR and ${VAR} in FILE from the
//	                          script's environment
func deployScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"cfemu":        cmdCfemu,
		"wranglerlink": cmdWranglerLink,
		"httpserve":    cmdHTTPServe,
		"holdlock":     cmdHoldLock,
		"ledgerappend": cmdLedgerAppend,
		"line":         cmdLine,
		"replaceline":  cmdReplaceLine,
		"expand":       cmdExpand,
		"exitcode":     cmdExitCode,
		"ghrun":        cmdGHRun,
		"waitfor":      cmdWaitFor,
		"lines":        cmdLines,
	}
}

// emuServer is one script's emulator with the -after faults it watches for.
type emuServer struct {
	emu *cfemu.Emulator
	mu  sync.Mutex
	// pending faults installed after a number of matching requests.
	later []*laterFault
	// arrived lists "METHOD PATH" of every API request as it arrives,
	// before it is answered (cfemu await).
	arrived []*http.Request
}

type laterFault struct {
	fault cfemu.Fault
	left  int
}

var emulators sync.Map // *testscript.TestScript → *emuServer

func (s *emuServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, cfemu.AdminPrefix) {
		s.mu.Lock()
		s.arrived = append(s.arrived, &http.Request{Method: r.Method, URL: r.URL})
		s.mu.Unlock()
	}
	s.emu.ServeHTTP(w, r)
	if strings.HasPrefix(r.URL.Path, cfemu.AdminPrefix) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.later[:0]
	for _, lf := range s.later {
		if faultMatches(lf.fault, r) {
			lf.left--
			if lf.left <= 0 {
				_ = s.emu.AddFault(lf.fault)
				continue
			}
		}
		kept = append(kept, lf)
	}
	s.later = kept
}

// faultMatches mirrors cfemu's matching: method, then the path with "*"
// for one segment and a final "**" for the rest.
func faultMatches(f cfemu.Fault, r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	ps := strings.Split(strings.Trim(f.Path, "/"), "/")
	xs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, cfemu.APIPrefix), "/"), "/")
	for i, seg := range ps {
		if seg == "**" && i == len(ps)-1 {
			return true
		}
		if i >= len(xs) || (seg != "*" && seg != xs[i]) {
			return false
		}
	}
	return len(ps) == len(xs)
}

func scriptEmu(ts *testscript.TestScript) *emuServer {
	v, ok := emulators.Load(ts)
	if !ok {
		ts.Fatalf("cfemu: not started (run 'cfemu start' first)")
	}
	return v.(*emuServer)
}

func cmdCfemu(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: cfemu start|fault|nofaults|requests|clear|latest|count|bucket|objects ...")
	}
	if neg && args[0] != "latest" {
		ts.Fatalf("cfemu %s does not support negation", args[0])
	}
	switch args[0] {
	case "start":
		cfemuStart(ts, args[1:])
	case "fault":
		s := scriptEmu(ts)
		rest := args[1:]
		after := 0
		if len(rest) >= 2 && rest[0] == "-after" {
			n, err := strconv.Atoi(rest[1])
			ts.Check(err)
			after, rest = n, rest[2:]
		}
		if len(rest) != 1 {
			ts.Fatalf("usage: cfemu fault [-after N] JSON")
		}
		var f cfemu.Fault
		ts.Check(json.Unmarshal([]byte(rest[0]), &f))
		if after == 0 {
			ts.Check(s.emu.AddFault(f))
			return
		}
		s.mu.Lock()
		s.later = append(s.later, &laterFault{fault: f, left: after})
		s.mu.Unlock()
	case "nofaults":
		s := scriptEmu(ts)
		s.mu.Lock()
		s.later = nil
		s.mu.Unlock()
		s.emu.ClearFaults()
	case "requests":
		for _, r := range scriptEmu(ts).emu.Requests() {
			p := r.Path
			if r.Query != "" {
				p += "?" + r.Query
			}
			fmt.Fprintf(ts.Stdout(), "%s %s %d\n", r.Method, p, r.Status)
		}
	case "clear":
		scriptEmu(ts).emu.ClearRequests()
	case "await":
		if len(args) != 3 {
			ts.Fatalf("usage: cfemu await METHOD PATH")
		}
		cfemuAwait(ts, cfemu.Fault{Method: args[1], Path: args[2]})
	case "latest":
		if len(args) != 2 {
			ts.Fatalf("usage: cfemu latest WORKER")
		}
		cfemuLatest(ts, neg, args[1])
	case "count":
		if len(args) != 2 {
			ts.Fatalf("usage: cfemu count WORKER")
		}
		sc := findScript(ts, args[1])
		nv, nd := 0, 0
		if sc != nil {
			nv, nd = len(sc.Versions), len(sc.Deployments)
		}
		fmt.Fprintf(ts.Stdout(), "versions %d deployments %d\n", nv, nd)
	case "deployments":
		if len(args) != 2 {
			ts.Fatalf("usage: cfemu deployments WORKER")
		}
		if sc := findScript(ts, args[1]); sc != nil {
			for _, d := range sc.Deployments {
				var parts []string
				for _, v := range d.Versions {
					parts = append(parts, fmt.Sprintf("%s@%s%%", v.VersionID, strconv.FormatFloat(v.Percentage, 'f', -1, 64)))
				}
				fmt.Fprintln(ts.Stdout(), strings.Join(parts, " "))
			}
		}
	case "unhealthy":
		if len(args) != 3 && len(args) != 4 {
			ts.Fatalf("usage: cfemu unhealthy WORKER TAG [STATUS]")
		}
		out, err := exec.Command("git", "-C", ts.MkAbs("."), "rev-parse", "--verify", args[2]+"^{commit}").Output()
		if err != nil {
			ts.Fatalf("cfemu unhealthy: %s is not a commit: %v", args[2], err)
		}
		rule := cfemu.HealthRule{Worker: args[1], Tag: strings.TrimSpace(string(out))}
		if len(args) == 4 {
			n, err := strconv.Atoi(args[3])
			ts.Check(err)
			rule.Status = n
		}
		ts.Check(scriptEmu(ts).emu.SetVersionHealth(rule))
	case "edge":
		if len(args) != 2 {
			ts.Fatalf("usage: cfemu edge WORKER")
		}
		served := scriptEmu(ts).emu.EdgeServed(args[1])
		ids := make([]string, 0, len(served))
		for id := range served {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			fmt.Fprintf(ts.Stdout(), "%s percentage %d override %d\n", id, served[id].Percentage, served[id].Override)
		}
	case "bucket":
		if len(args) != 2 {
			ts.Fatalf("usage: cfemu bucket NAME")
		}
		ts.Check(scriptEmu(ts).emu.CreateBucket(ts.Getenv("CLOUDFLARE_ACCOUNT_ID"), args[1]))
	case "objects":
		if len(args) != 2 {
			ts.Fatalf("usage: cfemu objects BUCKET")
		}
		cfemuObjects(ts, args[1])
	default:
		ts.Fatalf("cfemu: unknown subcommand %q", args[0])
	}
}

// cfemuAwait waits (up to a minute) until a request matching f's method
// and path has arrived at the emulator, answered or not.
func cfemuAwait(ts *testscript.TestScript, f cfemu.Fault) {
	s := scriptEmu(ts)
	deadline := time.Now().Add(time.Minute)
	for {
		s.mu.Lock()
		for _, r := range s.arrived {
			if faultMatches(f, r) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			ts.Fatalf("cfemu await: no %s %s arrived within a minute", f.Method, f.Path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cfemuStart(ts *testscript.TestScript, args []string) {
	if _, ok := emulators.Load(ts); ok {
		ts.Fatalf("cfemu: already started")
	}
	token, account := "test-token", cfemu.DefaultAccountID
	var opts []cfemu.Option
	var d1 [][2]string
	for i := 0; i < len(args); i++ {
		if i+1 >= len(args) {
			ts.Fatalf("cfemu start: %s needs a value", args[i])
		}
		switch args[i] {
		case "-token":
			token = args[i+1]
			opts = append(opts, cfemu.WithToken(token))
		case "-account":
			account = args[i+1]
			opts = append(opts, cfemu.WithAccount(account))
		case "-d1":
			uuid, name, ok := strings.Cut(args[i+1], "=")
			if !ok {
				ts.Fatalf("cfemu start: -d1 wants UUID=NAME")
			}
			d1 = append(d1, [2]string{uuid, name})
		default:
			ts.Fatalf("cfemu start: unknown flag %q", args[i])
		}
		i++
	}
	for _, d := range d1 {
		opts = append(opts, cfemu.WithD1Database(account, d[0], d[1]))
	}
	s := &emuServer{emu: cfemu.New(opts...)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ts.Defer(func() { srv.Close() })
	emulators.Store(ts, s)
	ts.Defer(func() { emulators.Delete(ts) })
	base := "http://" + ln.Addr().String() + cfemu.APIPrefix
	ts.Setenv("CLOUDFLARE_API_BASE_URL", base)
	ts.Setenv("CLOUDFLARE_BASE_URL", base)
	ts.Setenv("CLOUDFLARE_ACCOUNT_ID", account)
	ts.Setenv("CLOUDFLARE_API_TOKEN", token)
	ts.Setenv("CFEMU_EDGE", "http://"+ln.Addr().String()+strings.TrimSuffix(cfemu.EdgePrefix, "/"))
}

func cmdLines(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lines FILE VAR")
	}
	n := 0
	if data, err := os.ReadFile(ts.MkAbs(args[0])); err == nil {
		n = strings.Count(string(data), "\n")
	}
	ts.Setenv(args[1], strconv.Itoa(n))
}

// cmdWaitFor polls a file until a line matches: a background command has
// reached a state the script wants to act in.
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	after := 0
	if len(args) == 4 && args[0] == "-after" {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		after, args = n, args[2:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitfor [-after N] FILE REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(ts.MkAbs(args[0])); err == nil {
			for i, l := range strings.Split(string(data), "\n") {
				if i >= after && re.MatchString(l) {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("waitfor: no line of %s matches %s after 60s", args[0], args[1])
}

// cfemuObjects prints how many objects a bucket holds, then their keys
// with their sizes, sorted.
func cfemuObjects(ts *testscript.TestScript, bucket string) {
	acct := scriptEmu(ts).emu.Snapshot().Accounts[ts.Getenv("CLOUDFLARE_ACCOUNT_ID")]
	if acct == nil || acct.R2[bucket] == nil {
		ts.Fatalf("cfemu: no bucket %s", bucket)
	}
	keys := make([]string, 0, len(acct.R2[bucket].Objects))
	for k := range acct.R2[bucket].Objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(ts.Stdout(), "objects %d\n", len(keys))
	for _, k := range keys {
		fmt.Fprintf(ts.Stdout(), "%s %d\n", k, len(acct.R2[bucket].Objects[k].Data))
	}
}

func findScript(ts *testscript.TestScript, worker string) *cfemu.Script {
	st := scriptEmu(ts).emu.Snapshot()
	acct := st.Accounts[ts.Getenv("CLOUDFLARE_ACCOUNT_ID")]
	if acct == nil {
		return nil
	}
	return acct.Scripts[worker]
}

func cfemuLatest(ts *testscript.TestScript, neg bool, worker string) {
	sc := findScript(ts, worker)
	if sc == nil || len(sc.Deployments) == 0 {
		if neg {
			return
		}
		ts.Fatalf("cfemu: worker %q has no deployment", worker)
	}
	if neg {
		ts.Fatalf("cfemu: worker %q has %d deployment(s)", worker, len(sc.Deployments))
	}
	d := sc.Deployments[len(sc.Deployments)-1]
	if len(d.Versions) == 0 {
		ts.Fatalf("cfemu: deployment %s has no version", d.ID)
	}
	vid := d.Versions[0].VersionID
	var tag, msg string
	for _, v := range sc.Versions {
		if v.ID == vid {
			tag, msg = v.Annotations["workers/tag"], v.Annotations["workers/message"]
		}
	}
	ts.Setenv("VERSION_ID", vid)
	ts.Setenv("DEPLOYMENT_ID", d.ID)
	ts.Setenv("VERSION_TAG", tag)
	ts.Setenv("VERSION_MESSAGE", msg)
	fmt.Fprintf(ts.Stdout(), "version %s\ndeployment %s\ntag %s\nmessage %s\n", vid, d.ID, tag, msg)
	for _, v := range sc.Versions {
		if v.ID != vid {
			continue
		}
		names := make([]string, 0, len(v.Modules))
		for n := range v.Modules {
			names = append(names, n)
		}
		sort.Strings(names)
		ts.Setenv("MAIN_MODULE_SHA", v.Modules[v.MainModule])
		for _, n := range names {
			fmt.Fprintf(ts.Stdout(), "module %s %s\n", n, v.Modules[n])
		}
	}
}

func cmdWranglerLink(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: wranglerlink DIR")
	}
	// The test runs in cmd/guard; the module root is two levels up.
	bin, err := wranglertest.Binary()
	if err != nil {
		ts.Fatalf("%v", err)
	}
	dir := filepath.Join(ts.MkAbs(args[0]), "node_modules", ".bin")
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(os.Symlink(bin, filepath.Join(dir, "wrangler")))
}

func cmdHTTPServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: httpserve VAR STATUS[,STATUS...]")
	}
	var statuses []int
	for _, s := range strings.Split(args[1], ",") {
		n, err := strconv.Atoi(s)
		ts.Check(err)
		statuses = append(statuses, n)
	}
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(hits.Add(1)) - 1
		w.WriteHeader(statuses[min(i, len(statuses)-1)])
	})}
	go func() { _ = srv.Serve(ln) }()
	ts.Defer(func() { srv.Close() })
	ts.Setenv(args[0], "http://"+ln.Addr().String()+"/health")
}

func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: holdlock DIR NAME")
	}
	lk, err := ledger.AcquireLock(ts.MkAbs(args[0]), args[1])
	ts.Check(err)
	ts.Defer(func() { lk.Release() })
}

func cmdLedgerAppend(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: ledgerappend FILE KIND STATUS WORKER [KEY=VALUE...]")
	}
	rec := ledger.Record{Kind: args[1], Status: args[2], Worker: args[3]}
	for _, kv := range args[4:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "ref":
			n, err := strconv.Atoi(v)
			ts.Check(err)
			rec.Ref = n
		case "version":
			rec.VersionID = v
		case "deployment":
			rec.DeploymentID = v
		case "commit":
			rec.Commit = v
		case "verified":
			rec.Verified = v
		case "time":
			t, err := time.Parse(time.RFC3339, v)
			ts.Check(err)
			rec.Time = t
		default:
			ts.Fatalf("ledgerappend: unknown key %q", k)
		}
	}
	_, err := ledger.Open(ts.MkAbs(args[0])).Append(rec)
	ts.Check(err)
}

func readLines(ts *testscript.TestScript, file string) []string {
	data, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func lineIndex(ts *testscript.TestScript, lines []string, arg string) int {
	n, err := strconv.Atoi(arg)
	ts.Check(err)
	if n < 0 {
		n = len(lines) + 1 + n
	}
	if n < 1 || n > len(lines) {
		ts.Fatalf("line %s: the file has %d line(s)", arg, len(lines))
	}
	return n - 1
}

func cmdLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: line FILE N")
	}
	lines := readLines(ts, args[0])
	fmt.Fprintln(ts.Stdout(), lines[lineIndex(ts, lines, args[1])])
}

func cmdReplaceLine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: replaceline FILE N OLD NEW")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	lines := strings.Split(string(data), "\n")
	i := lineIndex(ts, readLines(ts, args[0]), args[1])
	if !strings.Contains(lines[i], args[2]) {
		ts.Fatalf("replaceline: line %s has no %q", args[1], args[2])
	}
	lines[i] = strings.Replace(lines[i], args[2], args[3], 1)
	ts.Check(os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
}

func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expand FILE")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	missing := []string{}
	out := os.Expand(string(data), func(k string) string {
		v := ts.Getenv(k)
		if v == "" {
			missing = append(missing, k)
		}
		return v
	})
	if len(missing) > 0 {
		ts.Check(errors.New("expand: unset variables: " + strings.Join(missing, ", ")))
	}
	ts.Check(os.WriteFile(path, []byte(out), 0o644))
}

// cmdExitCode runs a command like exec and checks its exit status:
// exitcode N CMD ARGS... (the output is kept for stdout/stderr checks).
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
