"""GitHub: commit revisions and their archives, the push webhook, issue links, the Deployments API
and the starter branch. The dashboard's repository, build and issues tiles read it (dashboard/)."""
