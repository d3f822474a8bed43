"""The bottom layer every app may import: it imports no app of ours."""
