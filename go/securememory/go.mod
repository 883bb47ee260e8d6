module gate.local/gosecret

go 1.22
