package archive_test

import (
	"fmt"
	"log"

	"github.com/gorc-jit/gorc/archive"
)

// member formats one ar member header and its data (padded to even size).
func member(name, data string) string {
	h := fmt.Sprintf("%-16s%-12s%-6s%-6s%-8s%-10d`\n", name+"/", "0", "0", "0", "644", len(data))
	if len(data)%2 == 1 {
		data += "\n"
	}
	return h + data
}

// Parse an archive held in memory and list its members.
func ExampleParse() {
	data := "!<arch>\n" + member("a.o", "first") + member("b.o", "second!")
	a, err := archive.Parse("lib.a", []byte(data))
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range a.Members() {
		fmt.Printf("%s: %q\n", a.MemberName(m), m.Data)
	}
	fmt.Println("symbol table:", a.HasSymbolTable())
	// Output:
	// lib.a(a.o): "first"
	// lib.a(b.o): "second!"
	// symbol table: false
}
