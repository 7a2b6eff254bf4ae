"""Reports: a campaign's outcome, the audience over time, the posts whose emails were
clicked most. One module a report, each a function of the store returning a dataclass;
the command line (`publisher report`), the Admin API and the console's pages all call
these, so the numbers, the JSON, the CSV and the charts agree."""
