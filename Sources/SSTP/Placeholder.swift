// SSTP core ([MS-SSTP]); see the files beside this one.
