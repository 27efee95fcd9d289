// render-chart renders a Helm 3 chart the way `helm template` does, for tests on machines
// without a helm binary: Go's text/template with sprig's functions and the functions Helm
// adds (include, tpl, required, toYaml, fromYaml, toJson, fromJson, lookup), values
// coalesced from the chart's values.yaml and override files, validated against the
// chart's values.schema.json (gojsonschema, as Helm 3 does), and the built-in objects
// .Values, .Release, .Chart, .Capabilities and .Template.
//
// It implements only what the annal chart uses; the chart's templates keep to that subset
// (tests/packaging/README.md), so helm renders them identically.
//
//	render-chart --chart DIR [--values FILE]... [--set-string KEY=VALUE]... \
//	    [--release NAME] [--namespace NS] [--kube-version 1.20.2] \
//	    [--api-versions FILE] [--output FILE] [--notes FILE] [--validate-only]
//	render-chart --to-json FILE   (a multi-document YAML file as a JSON array, for tests)
//
// Exit codes: 0 rendered; 1 bad values (schema) or template error; 2 usage.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
	"github.com/xeipuuv/gojsonschema"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// VersionSet is .Capabilities.APIVersions: "group/version" and "group/version/Kind".
type VersionSet []string

// Has reports whether the API server serves the given version (or version/Kind).
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version    string
	Major      string
	Minor      string
	GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

// Capabilities is .Capabilities.
type Capabilities struct {
	APIVersions VersionSet
	KubeVersion KubeVersion
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	// ghodss/yaml goes through JSON, like sigs.k8s.io/yaml in Helm: numbers are float64.
	if err := yaml.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out, nil
}

// coalesce merges src over dst as Helm does for values files: maps merge recursively, a
// null in src deletes the key.
func coalesce(dst, src map[string]interface{}) {
	for key, value := range src {
		if value == nil {
			delete(dst, key)
			continue
		}
		srcMap, srcIsMap := value.(map[string]interface{})
		dstMap, dstIsMap := dst[key].(map[string]interface{})
		if srcIsMap && dstIsMap {
			coalesce(dstMap, srcMap)
		} else {
			dst[key] = value
		}
	}
}

func setString(values map[string]interface{}, assignment string) error {
	key, value, ok := strings.Cut(assignment, "=")
	if !ok {
		return fmt.Errorf("--set-string wants KEY=VALUE, got %q", assignment)
	}
	parts := strings.Split(key, ".")
	m := values
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
	return nil
}

func validate(chartDir string, values map[string]interface{}) error {
	schemaPath := filepath.Join(chartDir, "values.schema.json")
	schema, err := os.ReadFile(schemaPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema),
		gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	if result.Valid() {
		return nil
	}
	var b strings.Builder
	b.WriteString("values don't meet the specifications of the schema(s) in the following chart(s):\n")
	b.WriteString(filepath.Base(chartDir) + ":\n")
	for _, e := range result.Errors() {
		b.WriteString("- " + e.String() + "\n")
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

type renderer struct {
	root *template.Template
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	// Helm removes these: a chart must not depend on the renderer's environment.
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["toJson"] = func(v interface{}) string {
		data, err := yaml.YAMLToJSON([]byte(toYAML(v)))
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = fromYAML // JSON is YAML
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(message string, value interface{}) (interface{}, error) {
		if value == nil {
			return nil, errors.New(message)
		}
		if s, ok := value.(string); ok && s == "" {
			return nil, errors.New(message)
		}
		return value, nil
	}
	// Without a cluster connection Helm's lookup returns an empty map, as here.
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// yamlDocumentsToJSON prints the documents of a YAML stream as one JSON array (empty
// documents skipped), so that tests in any language can read manifests.
func yamlDocumentsToJSON(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var docs [][]byte
	for _, doc := range documentSeparator.Split(string(data), -1) {
		converted, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if s := strings.TrimSpace(string(converted)); s != "null" && s != "" {
			docs = append(docs, converted)
		}
	}
	_, err = fmt.Printf("[%s]\n", bytes.Join(docs, []byte(",\n")))
	return err
}

func main() {
	var valuesFiles, setStrings listFlag
	chartDir := flag.String("chart", "", "chart directory")
	flag.Var(&valuesFiles, "values", "values file (repeatable; later wins)")
	flag.Var(&setStrings, "set-string", "KEY=VALUE (repeatable)")
	release := flag.String("release", "annal", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "1.20.2", "Kubernetes version for .Capabilities")
	apiVersionsFile := flag.String("api-versions", "", "file with one served API version (or version/Kind) per line")
	output := flag.String("output", "-", "manifest output ('-' = stdout)")
	notes := flag.String("notes", "", "write the rendered NOTES.txt here")
	validateOnly := flag.Bool("validate-only", false, "check the values against the schema and stop")
	toJSON := flag.String("to-json", "", "print this multi-document YAML file as a JSON array and exit")
	flag.Parse()
	if *toJSON != "" {
		if err := yamlDocumentsToJSON(*toJSON); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(1)
		}
		return
	}
	if *chartDir == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*chartDir, valuesFiles, setStrings, *release, *namespace, *kubeVersion,
		*apiVersionsFile, *output, *notes, *validateOnly); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func run(chartDir string, valuesFiles, setStrings []string, release, namespace, kubeVersion,
	apiVersionsFile, output, notes string, validateOnly bool) error {
	chartMeta, err := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range valuesFiles {
		override, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		coalesce(values, override)
	}
	for _, s := range setStrings {
		if err := setString(values, s); err != nil {
			return err
		}
	}
	if err := validate(chartDir, values); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}

	// .Chart has Helm's capitalised field names (chart.Metadata).
	chart := map[string]interface{}{}
	for key, value := range chartMeta {
		chart[strings.ToUpper(key[:1])+key[1:]] = value
	}
	caps := Capabilities{KubeVersion: KubeVersion{Version: "v" + kubeVersion, GitVersion: "v" + kubeVersion}}
	if parts := strings.Split(kubeVersion, "."); len(parts) >= 2 {
		caps.KubeVersion.Major, caps.KubeVersion.Minor = parts[0], parts[1]
	}
	if apiVersionsFile != "" {
		data, err := os.ReadFile(apiVersionsFile)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				caps.APIVersions = append(caps.APIVersions, line)
			}
		}
	} else {
		caps.APIVersions = VersionSet{"v1", "apps/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
			"coordination.k8s.io/v1", "apiextensions.k8s.io/v1"}
	}

	r := &renderer{}
	r.root = template.New("gotpl").Option("missingkey=zero").Funcs(r.funcs())
	templatesDir := filepath.Join(chartDir, "templates")
	var files []string
	err = filepath.WalkDir(templatesDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	chartName, _ := chartMeta["name"].(string)
	nameOf := func(path string) string {
		rel, _ := filepath.Rel(chartDir, path)
		return chartName + "/" + filepath.ToSlash(rel)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if _, err := r.root.New(nameOf(path)).Parse(string(data)); err != nil {
			return err
		}
	}

	var manifest bytes.Buffer
	for _, path := range files {
		base := filepath.Base(path)
		if strings.HasPrefix(base, "_") {
			continue
		}
		name := nameOf(path)
		top := map[string]interface{}{
			"Values":       values,
			"Chart":        chart,
			"Capabilities": caps,
			"Release": map[string]interface{}{
				"Name": release, "Namespace": namespace, "Service": "Helm",
				"IsInstall": true, "IsUpgrade": false, "Revision": 1,
			},
			"Template": map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"},
		}
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, top); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			if notes != "" {
				if err := os.WriteFile(notes, []byte(text), 0o644); err != nil {
					return err
				}
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&manifest, "---\n# Source: %s\n%s\n", name, strings.Trim(text, "\n"))
	}
	if output == "-" {
		_, err = os.Stdout.Write(manifest.Bytes())
		return err
	}
	return os.WriteFile(output, manifest.Bytes(), 0o644)
}
